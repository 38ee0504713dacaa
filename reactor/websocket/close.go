package websocket

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Close status codes (RFC 6455 section 7.4.1) that this package sends.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never on the wire: a close frame without a code
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
)

// maxCloseReason is the room for a reason in a close frame after its code.
const maxCloseReason = maxControlPayload - 2

// CloseError ends a session. Remote is true when the peer sent the close
// frame (Code is its code, or CloseNoStatus when it sent none); otherwise
// the session failed the connection itself with Code, for the Reason given.
type CloseError struct {
	Code   int
	Reason string
	Remote bool
}

func (e *CloseError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("websocket: closed by %s with %d", who, e.Code)
	}
	return fmt.Sprintf("websocket: closed by %s with %d: %s", who, e.Code, e.Reason)
}

// validCloseCode reports whether a peer may send code in a close frame:
// the codes section 7.4.1 defines for use on the wire (plus 1012-1014,
// registered with IANA since) and the 3000-4999 ranges for libraries and
// applications. 1004-1006 and 1015 must never be sent.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// parseClosePayload checks a received close frame's payload and returns the
// code (CloseNoStatus when empty) and reason, or a CloseError to fail with.
func parseClosePayload(p []byte) (int, string, *CloseError) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", &CloseError{Code: CloseProtocolError, Reason: "close payload of one byte"}
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, "", &CloseError{Code: CloseProtocolError, Reason: "invalid close code"}
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", &CloseError{Code: CloseInvalidPayload, Reason: "close reason is not UTF-8"}
	}
	return code, string(p[2:]), nil
}

// CloseFrame returns an unmasked close frame with code and reason; a reason
// too long for a control frame is cut at a rune boundary. code CloseNoStatus
// gives an empty payload.
func CloseFrame(code int, reason string) []byte {
	if code == CloseNoStatus {
		return AppendServerHeader(make([]byte, 0, 2), OpClose, 0)
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	b := make([]byte, 0, 4+len(reason))
	b = AppendServerHeader(b, OpClose, 2+len(reason))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}
