package chatload

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
)

// A raw receiver is a logged-in bare connection whose pushes are scanned
// for the few fields the accounting needs instead of being fully decoded:
// decoding every push through the SDK costs the load generator more CPU
// than the server spends sending it, and both share the machine.

// rawReceive reads frames from conn until it fails and hands message
// pushes to the sink as receiver r.
func (k *sink) rawReceive(conn *rawConn, r int32, self *atomic.Int64) {
	conn.receive(func(op protocol.Op, body []byte) {
		if op == protocol.OpMsgPush {
			k.takeRaw(r, self, body)
		}
	})
}

// takeRaw is take for an undecoded msg push body.
func (k *sink) takeRaw(r int32, self *atomic.Int64, body []byte) bool {
	m, ok := scanMsgPush(body)
	if !ok {
		var p protocol.MsgPush
		if protocol.Unmarshal(body, &p) != nil {
			k.run.Add("foreign", 1)
			return false
		}
		m = p.Message
	}
	return k.takeMsg(r, self, &m)
}

// scanMsgPush pulls conv, seq, from and body out of a msg push body by
// looking for their keys; ok is false when any is missing or holds an
// escape, and the caller then decodes the JSON properly.
func scanMsgPush(b []byte) (protocol.Message, bool) {
	var m protocol.Message
	var ok bool
	if m.Conv, ok = scanString(b, `"conv":"`); !ok {
		return m, false
	}
	if m.Body, ok = scanString(b, `"body":"`); !ok {
		return m, false
	}
	if m.Seq, ok = scanInt(b, `"seq":`); !ok {
		return m, false
	}
	if m.From, ok = scanInt(b, `"from":`); !ok {
		return m, false
	}
	return m, true
}

// A key pattern such as "seq": cannot occur inside a JSON string (its
// quotes would be escaped) and a string value is never followed by a
// colon, so the first match is the key.

// findKey returns the index just past key in b, or -1. It searches
// without the key's leading quote (JSON is full of quotes, which makes a
// search that starts on one slow) and checks the quote afterwards.
func findKey(b []byte, key string) int {
	tail := []byte(key[1:])
	for off := 0; ; {
		i := bytes.Index(b[off:], tail)
		if i < 0 {
			return -1
		}
		i += off
		if i > 0 && b[i-1] == '"' {
			return i + len(tail)
		}
		off = i + 1
	}
}

func scanString(b []byte, key string) (string, bool) {
	i := findKey(b, key)
	if i < 0 {
		return "", false
	}
	rest := b[i:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func scanInt(b []byte, key string) (int64, bool) {
	i := findKey(b, key)
	if i < 0 {
		return 0, false
	}
	rest := b[i:]
	j := 0
	for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || j == 0 && rest[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil || j == len(rest) || (rest[j] != ',' && rest[j] != '}' && rest[j] != ' ') {
		return 0, false
	}
	return v, true
}

// rawKeepalive pings the raw connections every interval until stop closes,
// so the server's idle timeout does not close receivers that only listen.
func rawKeepalive(conns []*rawConn, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for _, c := range conns {
				if c != nil {
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Write(pingFrame)
				}
			}
		}
	}
}
