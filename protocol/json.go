package protocol

import (
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/encoder"
)

// api is the frozen sonic configuration for every body: unknown fields are
// ignored (forward compatibility), a value of the wrong type is an error,
// HTML is not escaped and maps are not sorted (faster, and clients need
// neither). Where sonic's JIT is unavailable it falls back to encoding/json
// with the same meaning.
var api = sonic.Config{}.Froze()

// encodeOpts are the options for encoding a body straight into a frame
// buffer. NoNullSliceOrMap makes nil slices encode as [] (the contract's
// "lists are never null"); options that post-process the whole buffer
// (EscapeHTML, ValidateString) must not be used here because the buffer
// holds binary headers of this and earlier frames.
const encodeOpts = encoder.NoNullSliceOrMap | encoder.NoEncoderNewline

// Body is implemented by every JSON body struct of the package.
type Body interface {
	// RequiredFields lists the JSON keys that must be present (and not null)
	// at the top level of the body. For replies it depends on the code: a
	// failure reply only needs "code".
	RequiredFields() []string
}

// Request is a request body that can check itself against the limits.
type Request interface {
	Body
	// Validate checks every field against the contract's rules and l; it
	// returns an *Error (BAD_REQUEST or TOO_LARGE) naming the field.
	Validate(l *Limits) error
}

// Normalizer is implemented by bodies holding lists: Normalize replaces nil
// lists with empty ones so that they encode as [] even where sonic falls back
// to encoding/json. It writes only where a list is nil, so a value that has
// been normalised (or built by the New... constructors) can be shared and
// encoded by many goroutines.
type Normalizer interface {
	Normalize()
}

// Marshal encodes v as a JSON body (lists as [], no trailing newline).
func Marshal(v any) ([]byte, error) {
	return AppendJSON(nil, v)
}

// AppendJSON appends the JSON encoding of v to dst. A Normalizer is
// normalised first.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	if n, ok := v.(Normalizer); ok {
		n.Normalize()
	}
	// EncodeInto takes a *[]byte; a pooled holder keeps dst itself from
	// escaping to the heap (one allocation per frame otherwise).
	p := slicePtrs.Get().(*[]byte)
	*p = dst
	err := encoder.EncodeInto(p, v, encodeOpts)
	out := *p
	*p = nil // do not keep the caller's buffer alive from the pool
	slicePtrs.Put(p)
	if err != nil {
		return out[:len(dst)], fmt.Errorf("protocol: encode %T: %w", v, err)
	}
	return out, nil
}

var slicePtrs = sync.Pool{New: func() any { return new([]byte) }}

// AppendJSONFrame appends a complete frame whose body is the JSON encoding of
// v: it reserves the header, encodes v directly after it in dst, then writes
// the length. Nothing is allocated beyond what the encoder needs when dst has
// capacity. On error dst is returned with its original length.
func AppendJSONFrame(dst []byte, op Op, reqID uint32, v any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	out, err := AppendJSON(dst, v)
	if err != nil {
		return dst[:start], err
	}
	PutHeader(out[start:], op, reqID, len(out)-start-HeaderSize)
	return out, nil
}

// AppendErrorFrame appends the failure reply {code, message,
// retry_after_ms?} for request op/reqID. A nil e is sent as INTERNAL, so a
// handler bug never produces an "OK" that is not one.
func AppendErrorFrame(dst []byte, op Op, reqID uint32, e *Error) []byte {
	if e == nil {
		e = &Error{Code: CodeInternal, Message: "internal error"}
	}
	out, err := AppendJSONFrame(dst, op, reqID, e)
	if err != nil {
		// An *Error holds only strings and an integer: encoding cannot fail.
		panic(err)
	}
	return out
}

// Unmarshal decodes a JSON body into v without the object and required-field
// checks of DecodeBody. Errors are *Error with CodeBadRequest.
func Unmarshal(body []byte, v any) error {
	if err := api.Unmarshal(body, v); err != nil {
		return decodeError(body, err)
	}
	return nil
}

// DecodeBody decodes a JSON body into v. Any failure is an *Error with
// CodeBadRequest whose message names the problem: a body that is not a JSON
// object (empty, [], 3, "x", null), invalid UTF-8, a syntax error, a field of
// the wrong type, or a required field missing or null. Unknown fields are
// ignored.
func DecodeBody(body []byte, v Body) error {
	if !isObject(body) {
		return BadRequest("", "body is not a JSON object")
	}
	if !utf8.Valid(body) {
		return BadRequest("", "body is not valid UTF-8")
	}
	if err := api.Unmarshal(body, v); err != nil {
		return decodeError(body, err)
	}
	if missing := missingField(body, v.RequiredFields()); missing != "" {
		return BadRequest(missing, "required")
	}
	return nil
}

// ReplyBody is a reply body: a Body with an embedded Status.
type ReplyBody interface {
	Body
	Replier
}

// DecodeReply decodes a reply body into v and returns the reply's failure,
// if any, as an *Error. A body that cannot be decoded is a BAD_REQUEST
// *Error too; callers that must tell a protocol violation from a failure
// reply can check the code or use DecodeBody and Status.Err.
func DecodeReply(body []byte, v ReplyBody) error {
	if err := DecodeBody(body, v); err != nil {
		return err
	}
	return v.status().Err()
}

// DecodeRequest is DecodeBody followed by v.Validate(l); l may be nil for the
// contract's defaults.
func DecodeRequest(body []byte, v Request, l *Limits) error {
	if err := DecodeBody(body, v); err != nil {
		return err
	}
	return v.Validate(l)
}

// decodeError turns a JSON library error into a BAD_REQUEST naming the
// top-level field it is about. The library's own text is not echoed: it
// quotes the input, which may be large.
func decodeError(body []byte, err error) *Error {
	pos := errorOffset(err)
	if f := fieldAt(body, pos); f != "" {
		return BadRequest(f, "wrong type or malformed value")
	}
	if pos >= 0 {
		return BadRequest("", "malformed JSON at byte "+strconv.Itoa(pos))
	}
	return BadRequest("", "malformed JSON")
}
