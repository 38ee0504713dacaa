package protocol

import (
	"errors"
	"fmt"
	"testing"
)

func TestOpNamesAndKinds(t *testing.T) {
	want := map[Op]string{
		0x0001: "ping", 0x0010: "register", 0x0011: "login", 0x0012: "logout",
		0x0020: "profile.get", 0x0021: "profile.update", 0x0022: "user.search",
		0x0030: "friend.request", 0x0031: "friend.respond", 0x0032: "friend.remove",
		0x0033: "friend.list", 0x0034: "friend.pending",
		0x0040: "msg.send", 0x0041: "msg.sync", 0x0042: "msg.ack", 0x0043: "msg.read", 0x0044: "conv.list",
		0x0050: "group.create", 0x0051: "group.join", 0x0052: "group.leave", 0x0053: "group.kick",
		0x0054: "group.members", 0x0055: "group.list", 0x0056: "group.dismiss",
		0x0060: "file.offer", 0x0061: "file.fetch", 0x0062: "file.upload", 0x0063: "file.download",
		0x0070: "room.create", 0x0071: "room.join", 0x0072: "room.leave", 0x0073: "room.say", 0x0074: "room.media",
		// Protocol 1.1 (section 12).
		0x0013: "account.password", 0x0014: "account.sessions", 0x0015: "account.revoke", 0x0016: "account.delete",
		0x0045: "msg.recall", 0x0046: "msg.typing", 0x0047: "msg.search",
		0x0057: "group.update", 0x0058: "group.set_role", 0x0059: "group.mute", 0x005A: "group.transfer",
		0x0075: "room.members", 0x1022: "typing",
		0x1001: "kicked", 0x1002: "presence", 0x1003: "profile.changed",
		0x1010: "friend.requested", 0x1011: "friend.responded", 0x1012: "friend.removed",
		0x1020: "msg", 0x1021: "msg.read_receipt", 0x1030: "group.event",
		0x1040: "file.offered", 0x1041: "file.ready",
		0x1050: "room.event", 0x1051: "room.said", 0x1052: "room.media",
	}
	if len(Ops()) != len(want) {
		t.Fatalf("Ops() has %d ops, contract has %d", len(Ops()), len(want))
	}
	for op, name := range want {
		if op.String() != name || !op.Known() {
			t.Errorf("%#04x: %q", uint16(op), op.String())
		}
		push := op >= 0x1000
		if op.IsPush() != push || op.IsRequest() == push {
			t.Errorf("%v: push=%v request=%v", op, op.IsPush(), op.IsRequest())
		}
		file := op == OpFileUpload || op == OpFileDownload
		if op.IsChatRequest() != (!push && !file) || op.IsFileRequest() != file {
			t.Errorf("%v: chat=%v file=%v", op, op.IsChatRequest(), op.IsFileRequest())
		}
		if op.IsBinary() != (op == OpRoomMedia || op == OpRoomMediaPush) {
			t.Errorf("%v: binary=%v", op, op.IsBinary())
		}
		if op.HasReply() != (!push && op != OpRoomMedia) {
			t.Errorf("%v: reply=%v", op, op.HasReply())
		}
		auth := op.IsChatRequest() && op != OpPing && op != OpRegister && op != OpLogin
		if op.NeedsAuth() != auth {
			t.Errorf("%v: auth=%v", op, op.NeedsAuth())
		}
	}
	for _, op := range []Op{0, 0x0002, 0x0017, 0x0076, 0x1000, 0x1023, 0x1053, 0xFFFF} {
		if op.Known() || op.IsRequest() || op.IsPush() || op.IsChatRequest() || op.HasReply() {
			t.Errorf("%v classified as known", op)
		}
	}
	if s := Op(0x0abc).String(); s != "op(0x0abc)" {
		t.Errorf("unknown op string %q", s)
	}
	ops := Ops()
	for i := 1; i < len(ops); i++ {
		if ops[i] <= ops[i-1] {
			t.Fatal("Ops() not sorted")
		}
	}
}

func TestCodes(t *testing.T) {
	want := []string{"OK", "BAD_REQUEST", "UNSUPPORTED_OP", "UNAUTHENTICATED", "BAD_CREDENTIALS",
		"USERNAME_TAKEN", "NOT_FOUND", "FORBIDDEN", "ALREADY_EXISTS", "RATE_LIMITED", "TOO_LARGE",
		"UNAVAILABLE", "INTERNAL"}
	codes := Codes()
	if len(codes) != len(want) {
		t.Fatalf("%d codes", len(codes))
	}
	for i, c := range codes {
		if string(c) != want[i] || !c.Known() {
			t.Errorf("code %d = %q", i, c)
		}
	}
	if Code("NOPE").Known() {
		t.Error("unknown code known")
	}
}

func TestErrors(t *testing.T) {
	e := BadRequest("nickname", "must be 1 to 64 characters")
	if e.Error() != "BAD_REQUEST: nickname: must be 1 to 64 characters" {
		t.Errorf("%q", e.Error())
	}
	wrapped := fmt.Errorf("handler: %w", e)
	if AsError(wrapped) != e || CodeOf(wrapped) != CodeBadRequest {
		t.Error("AsError/CodeOf through wrapping")
	}
	if !errors.Is(wrapped, &Error{Code: CodeBadRequest}) || errors.Is(wrapped, &Error{Code: CodeNotFound}) {
		t.Error("errors.Is by code")
	}
	if CodeOf(nil) != CodeOK || CodeOf(errors.New("x")) != CodeInternal || AsError(errors.New("x")) != nil {
		t.Error("CodeOf on nil / plain errors")
	}
	if r := RateLimited(30); r.Code != CodeRateLimited || r.RetryAfterMs != 30 {
		t.Error("RateLimited")
	}
	if e := UnsupportedOp(0x0abc); e.Code != CodeUnsupportedOp || e.Message != "unsupported op op(0x0abc)" {
		t.Errorf("%+v", e)
	}
	if e := Internal("c0ffee"); e.Code != CodeInternal || e.Message != "internal error, correlation id c0ffee" {
		t.Errorf("%+v", e)
	}
	if e := Errorf(CodeNotFound, "user %d", 5); e.Error() != "NOT_FOUND: user 5" {
		t.Errorf("%q", e.Error())
	}
	if Unauthenticated().Code != CodeUnauthenticated || TooLarge("avatar", 10).Code != CodeTooLarge {
		t.Error("constructors")
	}
	if (&Error{Code: CodeInternal}).Error() != "INTERNAL" {
		t.Error("empty message")
	}
	s := OK()
	if s.Err() != nil {
		t.Error("OK status has an error")
	}
	s = Status{Code: CodeForbidden, Message: "not a member"}
	if e := AsError(s.Err()); e == nil || e.Code != CodeForbidden || e.Message != "not a member" {
		t.Errorf("%v", s.Err())
	}
}
