package protocol

import (
	"errors"
	"fmt"
)

// Code is the outcome carried in the "code" field of every reply.
type Code string

// Reply codes, exactly as in section 2 of the contract.
const (
	CodeOK              Code = "OK"
	CodeBadRequest      Code = "BAD_REQUEST"
	CodeUnsupportedOp   Code = "UNSUPPORTED_OP"
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeBadCredentials  Code = "BAD_CREDENTIALS"
	CodeUsernameTaken   Code = "USERNAME_TAKEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeForbidden       Code = "FORBIDDEN"
	CodeAlreadyExists   Code = "ALREADY_EXISTS"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeTooLarge        Code = "TOO_LARGE"
	CodeUnavailable     Code = "UNAVAILABLE"
	CodeInternal        Code = "INTERNAL"
)

// Codes lists every code of the contract.
func Codes() []Code {
	return []Code{CodeOK, CodeBadRequest, CodeUnsupportedOp, CodeUnauthenticated,
		CodeBadCredentials, CodeUsernameTaken, CodeNotFound, CodeForbidden,
		CodeAlreadyExists, CodeRateLimited, CodeTooLarge, CodeUnavailable, CodeInternal}
}

// Known reports whether c is one of the contract's codes. Clients should
// treat an unknown code as a failure (a newer server may add codes).
func (c Code) Known() bool {
	switch c {
	case CodeOK, CodeBadRequest, CodeUnsupportedOp, CodeUnauthenticated,
		CodeBadCredentials, CodeUsernameTaken, CodeNotFound, CodeForbidden,
		CodeAlreadyExists, CodeRateLimited, CodeTooLarge, CodeUnavailable, CodeInternal:
		return true
	}
	return false
}

// Error is a failed reply: the server returns it from handlers and encodes it
// with AppendErrorFrame; the client gets it from Status.Err. It is the body
// {"code", "message", "retry_after_ms"?, "seq"?} of a failure reply.
type Error struct {
	Code         Code   `json:"code"`
	Message      string `json:"message"`
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"`
	// Seq is set on msg.recall's ALREADY_EXISTS: the seq of the existing
	// recall message, so a retried recall learns it succeeded (1.1).
	Seq int64 `json:"seq,omitempty"`
}

// Error formats the code and the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// NewError returns an *Error with the given code and message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a BAD_REQUEST error whose message names the field:
// "<field>: <reason>".
func BadRequest(field, reason string) *Error {
	if field == "" {
		return &Error{Code: CodeBadRequest, Message: reason}
	}
	return &Error{Code: CodeBadRequest, Message: field + ": " + reason}
}

// TooLarge returns a TOO_LARGE error naming the field and its limit.
func TooLarge(field string, limit int64) *Error {
	return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("%s: over the limit of %d bytes", field, limit)}
}

// RateLimited returns a RATE_LIMITED error telling the client to wait
// retryAfterMs milliseconds.
func RateLimited(retryAfterMs int64) *Error {
	return &Error{Code: CodeRateLimited, Message: "rate limited", RetryAfterMs: retryAfterMs}
}

// UnsupportedOp returns the UNSUPPORTED_OP error for op.
func UnsupportedOp(op Op) *Error {
	return &Error{Code: CodeUnsupportedOp, Message: "unsupported op " + op.String()}
}

// Unauthenticated is the error for requests that need a session.
func Unauthenticated() *Error {
	return &Error{Code: CodeUnauthenticated, Message: "login required"}
}

// Internal returns an INTERNAL error carrying a correlation id the server
// also logs, so that a user report can be matched with the log line.
func Internal(correlationID string) *Error {
	return &Error{Code: CodeInternal, Message: "internal error, correlation id " + correlationID}
}

// AsError returns err as an *Error if it is one (or wraps one), else nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns the code of err: CodeOK for nil, the code of a wrapped
// *Error, else CodeInternal.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	if e := AsError(err); e != nil {
		return e.Code
	}
	return CodeInternal
}

// Status is the part every reply body shares: code, and on failure message
// and (for RATE_LIMITED) retry_after_ms. Reply structs embed it, so its
// fields come first in the encoded JSON. A reply whose only field is code
// (logout, msg.ack, ...) uses Status itself as its body.
type Status struct {
	Code         Code   `json:"code"`
	Message      string `json:"message,omitempty"`
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"`
}

// OK returns a success Status.
func OK() Status { return Status{Code: CodeOK} }

// Err returns nil when the status is OK, else the status as an *Error.
func (s *Status) Err() error {
	if s.Code == CodeOK {
		return nil
	}
	return &Error{Code: s.Code, Message: s.Message, RetryAfterMs: s.RetryAfterMs}
}

// status gives access to the embedded Status of any reply.
func (s *Status) status() *Status { return s }

// Replier is implemented by every reply body (through the embedded Status).
type Replier interface {
	status() *Status
}

// StatusOf returns the Status embedded in a reply body.
func StatusOf(r Replier) *Status { return r.status() }
