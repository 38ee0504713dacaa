package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoomMediaRequest(t *testing.T) {
	payload := []byte{0xDE, 0xAD, 0xBE, 0xEF}
	f := AppendRoomMediaFrame(nil, 12, 0x0102030405, payload)
	want := []byte{0, 0, 0, 6 + 8 + 4, 0x00, 0x74, 0, 0, 0, 12,
		0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0xDE, 0xAD, 0xBE, 0xEF}
	if !bytes.Equal(f, want) {
		t.Fatalf("% x\nwant % x", f, want)
	}
	h, body, _, err := Decode(f, DefaultMaxFrameBody)
	if err != nil || h.Op != OpRoomMedia {
		t.Fatal(h, err)
	}
	room, p, err := ParseRoomMedia(body)
	if err != nil || room != 0x0102030405 || !bytes.Equal(p, payload) {
		t.Fatalf("%d % x %v", room, p, err)
	}
	// Empty payload is well formed.
	if room, p, err := ParseRoomMedia(AppendRoomMedia(nil, 1, nil)); err != nil || room != 1 || len(p) != 0 {
		t.Fatal("empty payload")
	}
}

func TestRoomMediaPush(t *testing.T) {
	f := AppendRoomMediaPushFrame(nil, 9, 1001, []byte("xyz"))
	want := []byte{0, 0, 0, 6 + 16 + 3, 0x10, 0x52, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0x03, 0xE9, 'x', 'y', 'z'}
	if !bytes.Equal(f, want) {
		t.Fatalf("% x\nwant % x", f, want)
	}
	room, from, p, err := ParseRoomMediaPush(f[HeaderSize:])
	if err != nil || room != 9 || from != 1001 || string(p) != "xyz" {
		t.Fatalf("%d %d %q %v", room, from, p, err)
	}
}

func TestRoomMediaMalformed(t *testing.T) {
	for _, body := range [][]byte{nil, make([]byte, 7), make([]byte, 8), // room 0
		{0x00, 0x20, 0, 0, 0, 0, 0, 0}, // 2^53
		{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}} {
		if _, _, err := ParseRoomMedia(body); !errors.Is(err, ErrMediaBody) {
			t.Errorf("% x accepted", body)
		}
	}
	for _, body := range [][]byte{make([]byte, 15), AppendRoomMediaPush(nil, 1, 0, nil), AppendRoomMediaPush(nil, 0, 1, nil)} {
		if _, _, _, err := ParseRoomMediaPush(body); !errors.Is(err, ErrMediaBody) {
			t.Errorf("% x accepted", body)
		}
	}
}

func TestDiscovery(t *testing.T) {
	if !IsDiscoverRequest([]byte("CHATD DISCOVER 1")) {
		t.Error("exact request refused")
	}
	for _, s := range []string{"", "CHATD DISCOVER 1\n", "chatd discover 1", "CHATD DISCOVER 2"} {
		if IsDiscoverRequest([]byte(s)) {
			t.Errorf("%q accepted", s)
		}
	}
	r := DiscoverReply{Name: "office", Version: "0.1.0", ChatAddr: "192.168.1.5:9000", FileAddr: "192.168.1.5:9001"}
	b, err := Marshal(&r)
	if err != nil || string(b) != `{"name":"office","version":"0.1.0","chat_addr":"192.168.1.5:9000","file_addr":"192.168.1.5:9001"}` {
		t.Fatalf("%s %v", b, err)
	}
	var got DiscoverReply
	if err := DecodeBody(b, &got); err != nil || got != r {
		t.Fatalf("%+v %v", got, err)
	}
}
