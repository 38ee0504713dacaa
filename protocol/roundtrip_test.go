package protocol

import (
	"bytes"
	"reflect"
	"testing"
)

// roundTrip encodes v in a frame, decodes the frame and the body into a
// fresh value of the same type, and checks that nothing changed.
func roundTrip(t *testing.T, op Op, reqID uint32, v Body) {
	t.Helper()
	frame, err := AppendJSONFrame([]byte("prefix"), op, reqID, v)
	if err != nil {
		t.Fatalf("%v: encode: %v", op, err)
	}
	if !bytes.HasPrefix(frame, []byte("prefix")) {
		t.Fatalf("%v: AppendJSONFrame clobbered dst", op)
	}
	h, body, n, err := Decode(frame[6:], DefaultMaxFrameBody)
	if err != nil || n != len(frame)-6 {
		t.Fatalf("%v: decode frame: n=%d err=%v", op, n, err)
	}
	if h.Op != op || h.ReqID != reqID {
		t.Fatalf("%v: header %+v", op, h)
	}
	got := reflect.New(reflect.TypeOf(v).Elem()).Interface().(Body)
	if err := DecodeBody(body, got); err != nil {
		t.Fatalf("%v: decode %T from %s: %v", op, v, body, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("%v: round trip changed the value\nwant %+v\ngot  %+v\nbody %s", op, v, got, body)
	}
}

func TestRoundTripEveryOp(t *testing.T) {
	s := samples()
	for _, op := range Ops() {
		sm, ok := s[op]
		if !ok {
			t.Fatalf("no sample for %v", op)
		}
		if op.IsBinary() {
			continue // TestRoomMedia*
		}
		if op.IsRequest() {
			if sm.req == nil || sm.reply == nil {
				t.Fatalf("%v: sample lacks request or reply", op)
			}
			if reflect.TypeOf(sm.req) != reflect.TypeOf(NewRequest(op)) {
				t.Errorf("%v: NewRequest gives %T, sample is %T", op, NewRequest(op), sm.req)
			}
			if reflect.TypeOf(sm.reply) != reflect.TypeOf(NewReply(op)) {
				t.Errorf("%v: NewReply gives %T, sample is %T", op, NewReply(op), sm.reply)
			}
			if err := sm.req.Validate(nil); err != nil {
				t.Errorf("%v: sample request invalid: %v", op, err)
			}
			roundTrip(t, op, 0xA1B2C3D4, sm.req)
			roundTrip(t, op, 1, sm.reply)
			// Every reply type also decodes a failure reply.
			fail := NewReply(op)
			frame := AppendErrorFrame(nil, op, 1, NewError(CodeNotFound, "no such thing"))
			if err := DecodeBody(frame[HeaderSize:], fail); err != nil {
				t.Errorf("%v: failure reply rejected: %v", op, err)
			}
			if c := CodeOf(StatusOf(fail.(Replier)).Err()); c != CodeNotFound {
				t.Errorf("%v: failure reply code %v", op, c)
			}
		}
		if op.IsPush() {
			if sm.push == nil {
				t.Fatalf("%v: sample lacks push", op)
			}
			if reflect.TypeOf(sm.push) != reflect.TypeOf(NewPush(op)) {
				t.Errorf("%v: NewPush gives %T, sample is %T", op, NewPush(op), sm.push)
			}
			roundTrip(t, op, 0, sm.push)
		}
	}
}

// TestRequiredFieldsMissing removes each required field of each sample in
// turn and checks the decoder names it.
func TestRequiredFieldsMissing(t *testing.T) {
	for op, sm := range samples() {
		for _, v := range []Body{sm.req, sm.reply, sm.push} {
			if v == nil {
				continue
			}
			body, err := Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			for _, f := range v.RequiredFields() {
				if _, ok := m[f]; !ok {
					t.Fatalf("%v %T: required %q not encoded", op, v, f)
				}
				for _, variant := range []string{"drop", "null"} {
					mm := make(map[string]any, len(m))
					for k, x := range m {
						mm[k] = x
					}
					if variant == "drop" {
						delete(mm, f)
					} else {
						mm[f] = nil
					}
					b, _ := Marshal(mm)
					fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface().(Body)
					err := DecodeBody(b, fresh)
					e := AsError(err)
					if e == nil || e.Code != CodeBadRequest || e.Message != f+": required" {
						t.Errorf("%v %T %s %q: got %v", op, v, variant, f, err)
					}
				}
			}
		}
	}
}
