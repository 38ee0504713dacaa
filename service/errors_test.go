package service

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
	"github.com/rs/zerolog"
)

// faultStore fails chosen calls of a real store.
type faultStore struct {
	store.Store
	friendsErr atomic.Pointer[error]
}

func (f *faultStore) Friends(ctx context.Context, user int64, limit int) ([]store.User, error) {
	if p := f.friendsErr.Load(); p != nil {
		return nil, *p
	}
	return f.Store.Friends(ctx, user, limit)
}

func TestStoreErrorsMapToCodes(t *testing.T) {
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &faultStore{Store: st}
	logs := &syncWriter{}
	e := &env{t: t, tweaks: []func(*Config){func(c *Config) { c.Store = fs; c.Logger = zerolog.New(logs) }}}
	e.scfg = store.Config{DataDir: t.TempDir()}
	e.open()
	defer e.close()

	c := e.user("fault")
	unavailable := errors.Join(store.ErrUnavailable, errors.New("connection refused"))
	fs.friendsErr.Store(&unavailable)
	var stt protocol.Status
	c.must(protocol.CodeUnavailable, protocol.OpFriendList, struct{}{}, &stt)
	weird := errors.New("disk on fire")
	fs.friendsErr.Store(&weird)
	c.must(protocol.CodeInternal, protocol.OpFriendList, struct{}{}, &stt)
	corr := stt.Message[strings.LastIndex(stt.Message, " ")+1:]
	if !strings.Contains(logs.String(), corr) || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("INTERNAL %q not logged with its correlation id:\n%s", stt.Message, logs.String())
	}
	// The connection stays usable after store errors.
	fs.friendsErr.Store(nil)
	c.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, nil)
}

func TestMetricsExposed(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	a, b := e.user("mx"), e.user("my")
	befriend(t, a, b)
	send(t, a, &protocol.MsgSendReq{ToUser: b.userID, Body: "m", ClientMsgID: "m"})
	// The push may be written after the sender's reply: wait for it, so
	// its frame has been counted.
	b.waitFor(protocol.OpMsgPush, nil)
	a.must(protocol.CodeUnsupportedOp, 0x7777, struct{}{}, nil)
	out, err := exposition()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`chatd_frames_in_total{op="msg.send"}`, `chatd_frames_out_total{op="msg"}`,
		`chatd_replies_total{code="OK",op="msg.send"}`, `chatd_replies_total{code="UNSUPPORTED_OP",op="unknown"}`,
		`chatd_msg_append_seconds_bucket`, `chatd_sessions`, `chatd_connections`, `chatd_media_dropped_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
