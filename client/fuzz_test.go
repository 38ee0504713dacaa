package client

import (
	"context"
	"net"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// FuzzReader feeds arbitrary server bytes to a client's reader: whatever
// arrives (broken frames, bad JSON, unknown ops, replies to nobody), the
// client must not panic and must still close cleanly.
func FuzzReader(f *testing.F) {
	ok, _ := protocol.AppendJSONFrame(nil, protocol.OpPing, 1, &protocol.PingResp{Status: protocol.OK(), Ts: 1})
	push, _ := protocol.AppendJSONFrame(nil, protocol.OpMsgPush, 0, &protocol.MsgPush{Message: protocol.Message{Conv: "p:1:2", Seq: 1}})
	f.Add(ok)
	f.Add(push)
	f.Add(append(push, push...))
	f.Add(protocol.AppendRoomMediaPushFrame(nil, 1, 2, []byte("x")))
	f.Add([]byte{0, 0, 0, 1, 0})
	f.Add(protocol.AppendFrame(nil, protocol.OpLogin, 1, []byte(`{"code":"OK","convs":[{"conv":"p:1:2","ack_seq":3}]}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, cli := net.Pipe()
		c, err := Dial(context.Background(), "pipe", Options{
			PingInterval: -1,
			OnPush:       func(Push) {},
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return cli, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, _ = srv.Write(data)
			_ = srv.Close()
		}()
		_ = c.Close()
	})
}
