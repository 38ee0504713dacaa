package protocol

import (
	"fmt"
	"reflect"

	"github.com/bytedance/sonic"
)

// NewRequest returns a new, empty request body for a JSON request op, ready
// for DecodeRequest, or nil for room.media (binary) and unknown ops.
func NewRequest(op Op) Request {
	if info := opTable[op]; info != nil && info.newReq != nil {
		return info.newReq()
	}
	return nil
}

// NewReply returns a new, empty success-reply body for a request op, or nil
// for ops without a JSON reply. Ops whose reply is only {code} get a
// *Status. For file.upload it is the first answer (FileUploadResp); the
// final one is a *Status.
func NewReply(op Op) Body {
	if info := opTable[op]; info != nil && info.newReply != nil {
		return info.newReply()
	}
	return nil
}

// NewPush returns a new, empty body for a JSON push op, or nil for the
// binary room.media push and unknown ops.
func NewPush(op Op) Body {
	if info := opTable[op]; info != nil && info.newPush != nil {
		return info.newPush()
	}
	return nil
}

// Pretouch compiles the JSON encoder and decoder of every body type ahead of
// time, so that the first request of each kind after start-up does not pay
// for sonic's just-in-time compilation. Servers call it once at start-up;
// it is optional.
func Pretouch() error {
	seen := map[reflect.Type]bool{}
	var types []reflect.Type
	add := func(v any) {
		if v == nil || reflect.ValueOf(v).IsNil() {
			return
		}
		t := reflect.TypeOf(v).Elem()
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	for _, op := range Ops() {
		if r := NewRequest(op); r != nil {
			add(r)
		}
		if r := NewReply(op); r != nil {
			add(r)
		}
		if p := NewPush(op); p != nil {
			add(p)
		}
	}
	add(&Error{})
	add(&DiscoverReply{})
	if err := sonic.PretouchMany(types); err != nil {
		return fmt.Errorf("protocol: pretouch: %w", err)
	}
	return nil
}
