package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	s := samples()
	var stream []byte
	for _, op := range Ops() {
		var v Body
		switch {
		case op.IsBinary():
			continue
		case op.IsPush():
			v = s[op].push
		default:
			v = s[op].req
		}
		frame, err := AppendJSONFrame(nil, op, 3, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame, uint16(1024))
		stream = append(stream, frame...)
	}
	stream = AppendRoomMediaFrame(stream, 1, 9, []byte{1, 2, 3})
	f.Add(stream, uint16(4096))
	f.Add([]byte{0, 0, 0, 5, 0, 1}, uint16(100))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF}, uint16(100))
	for _, v := range loadVectorsForSeeds(f) {
		f.Add(v, uint16(1024))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxBody uint16) {
		buf := data
		for len(buf) > 0 {
			h, body, n, err := Decode(buf, int(maxBody))
			checkReadFrame(t, buf, int(maxBody), h, body, n, err)
			if err != nil {
				if n != 0 || body != nil {
					t.Fatalf("error with n=%d", n)
				}
				return
			}
			if n == 0 {
				if len(buf) >= 4 && FrameSize(buf) <= len(buf) {
					t.Fatalf("complete frame of %d bytes reported incomplete", FrameSize(buf))
				}
				return
			}
			if n < HeaderSize || n > len(buf) || len(body) != n-HeaderSize || len(body) > int(maxBody) {
				t.Fatalf("n=%d len=%d body=%d", n, len(buf), len(body))
			}
			if again := AppendFrame(nil, h.Op, h.ReqID, body); !bytes.Equal(again, buf[:n]) {
				t.Fatalf("re-encoding differs:\n% x\n% x", again, buf[:n])
			}
			if h.Op == OpRoomMedia {
				if room, p, err := ParseRoomMedia(body); err == nil {
					if !bytes.Equal(AppendRoomMedia(nil, room, p), body) {
						t.Fatal("room.media re-encoding differs")
					}
				}
			}
			if h.Op == OpRoomMediaPush {
				if room, from, p, err := ParseRoomMediaPush(body); err == nil {
					if !bytes.Equal(AppendRoomMediaPush(nil, room, from, p), body) {
						t.Fatal("room.media push re-encoding differs")
					}
				}
			}
			buf = buf[n:]
		}
	})
}

// checkReadFrame asserts that ReadFrame over a stream holding buf agrees
// with Decode's verdict on buf, and consumes exactly the frame's bytes.
func checkReadFrame(t *testing.T, buf []byte, maxBody int, h Header, body []byte, n int, err error) {
	t.Helper()
	r := bytes.NewReader(buf)
	rh, rbody, rerr := ReadFrame(r, maxBody, make([]byte, 0, 16))
	switch {
	case err != nil:
		if rerr == nil || rerr.Error() != err.Error() {
			t.Fatalf("ReadFrame error %v, Decode error %v", rerr, err)
		}
	case n == 0:
		if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			t.Fatalf("incomplete frame: ReadFrame error %v", rerr)
		}
	default:
		if rerr != nil || rh != h || !bytes.Equal(rbody, body) || len(buf)-r.Len() != n {
			t.Fatalf("ReadFrame %v %q %v after %d bytes; Decode %v %q %d", rh, rbody, rerr, len(buf)-r.Len(), h, body, n)
		}
	}
}

// fuzzBodies is the shared body of the per-family JSON fuzz targets: the
// selector byte picks a body type; whatever DecodeBody accepts must
// re-encode to a body that is accepted again and decodes to the same value
// (a fixed point after one round: nil and empty optional lists both encode
// as an omitted field, so the first round may normalise).
func fuzzBodies(f *testing.F, types []func() Body) {
	for i, mk := range types {
		v := mk()
		for _, sm := range samples() {
			for _, s := range []Body{sm.req, sm.reply, sm.push} {
				if s != nil && reflect.TypeOf(s) == reflect.TypeOf(v) {
					b, err := Marshal(s)
					if err != nil {
						f.Fatal(err)
					}
					f.Add(b, uint8(i))
				}
			}
		}
		f.Add([]byte(`{}`), uint8(i))
		f.Add([]byte(`{"code":"NOT_FOUND","message":"x"}`), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		mk := types[int(which)%len(types)]
		v1 := mk()
		if DecodeBody(body, v1) != nil {
			return
		}
		if r, ok := v1.(Request); ok {
			_ = r.Validate(nil) // must not panic
		}
		enc1, err := Marshal(v1)
		if err != nil {
			t.Fatalf("accepted %s but cannot encode %+v: %v", body, v1, err)
		}
		v2 := mk()
		if err := DecodeBody(enc1, v2); err != nil {
			t.Fatalf("re-encoding %s of accepted %s rejected: %v", enc1, body, err)
		}
		enc2, err := Marshal(v2)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("encodings differ:\n%s\n%s", enc1, enc2)
		}
		v3 := mk()
		if err := DecodeBody(enc2, v3); err != nil || !reflect.DeepEqual(v2, v3) {
			t.Fatalf("values differ: %+v %+v %v", v2, v3, err)
		}
	})
}

func FuzzAccountBodies(f *testing.F) {
	fuzzBodies(f, []func() Body{
		func() Body { return &PingReq{} }, func() Body { return &PingResp{} },
		func() Body { return &RegisterReq{} }, func() Body { return &RegisterResp{} },
		func() Body { return &LoginReq{} }, func() Body { return &LoginResp{} },
		func() Body { return &LogoutReq{} }, func() Body { return &Status{} }, func() Body { return &Error{} },
		func() Body { return &ProfileGetReq{} }, func() Body { return &ProfileGetResp{} },
		func() Body { return &ProfileUpdateReq{} }, func() Body { return &ProfileUpdateResp{} },
		func() Body { return &UserSearchReq{} }, func() Body { return &UserSearchResp{} },
		func() Body { return &KickedPush{} }, func() Body { return &PresencePush{} },
		func() Body { return &ProfileChangedPush{} }, func() Body { return &DiscoverReply{} },
		func() Body { return &Profile{} }, func() Body { return &Friend{} },
	})
}

func FuzzMessageBodies(f *testing.F) {
	fuzzBodies(f, []func() Body{
		func() Body { return &MsgSendReq{} }, func() Body { return &MsgSendResp{} },
		func() Body { return &MsgSyncReq{} }, func() Body { return &MsgSyncResp{} },
		func() Body { return &MsgAckReq{} }, func() Body { return &MsgReadReq{} },
		func() Body { return &ConvListReq{} }, func() Body { return &ConvListResp{} },
		func() Body { return &MsgPush{} }, func() Body { return &ReadReceiptPush{} },
		func() Body { return &Message{} }, func() Body { return &ConvInfo{} },
	})
}

func FuzzSocialBodies(f *testing.F) {
	fuzzBodies(f, []func() Body{
		func() Body { return &FriendRequestReq{} }, func() Body { return &FriendRequestResp{} },
		func() Body { return &FriendRespondReq{} }, func() Body { return &FriendRemoveReq{} },
		func() Body { return &FriendListReq{} }, func() Body { return &FriendListResp{} },
		func() Body { return &FriendPendingReq{} }, func() Body { return &FriendPendingResp{} },
		func() Body { return &FriendRequestedPush{} }, func() Body { return &FriendRespondedPush{} },
		func() Body { return &FriendRemovedPush{} },
		func() Body { return &GroupCreateReq{} }, func() Body { return &GroupResp{} },
		func() Body { return &GroupIDReq{} }, func() Body { return &GroupKickReq{} },
		func() Body { return &GroupMembersResp{} }, func() Body { return &GroupListReq{} },
		func() Body { return &GroupListResp{} }, func() Body { return &GroupEventPush{} },
		func() Body { return &Group{} }, func() Body { return &FriendReq{} },
	})
}

func FuzzRoomFileBodies(f *testing.F) {
	fuzzBodies(f, []func() Body{
		func() Body { return &FileOfferReq{} }, func() Body { return &FileOfferResp{} },
		func() Body { return &FileFetchReq{} }, func() Body { return &FileFetchResp{} },
		func() Body { return &FileUploadReq{} }, func() Body { return &FileUploadResp{} },
		func() Body { return &FileDownloadReq{} }, func() Body { return &FileDownloadResp{} },
		func() Body { return &FileOfferedPush{} }, func() Body { return &FileReadyPush{} },
		func() Body { return &RoomCreateReq{} }, func() Body { return &RoomCreateResp{} },
		func() Body { return &RoomIDReq{} }, func() Body { return &RoomJoinResp{} },
		func() Body { return &RoomSayReq{} }, func() Body { return &RoomEventPush{} },
		func() Body { return &RoomSaidPush{} },
	})
}
