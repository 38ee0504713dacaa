package service

import (
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// FuzzChatPort sends arbitrary bytes on a chat connection (after an
// optional login) and checks that the server survives: a fresh connection
// is still answered. Frames with a bad length close only the sender's
// connection.
func FuzzChatPort(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0, 1, 0, 0, 0, 1, '{', '}'})
	f.Add(protocol.AppendFrame(nil, protocol.OpMsgSend, 7, []byte(`{"to_user":1,"body":"x","client_msg_id":"a"}`)))
	f.Add(protocol.AppendFrame(nil, protocol.OpRoomMedia, 7, []byte{0, 0, 0, 0, 0, 0, 0, 1, 9}))
	f.Add(protocol.AppendFrame(nil, protocol.OpGroupCreate, 1, []byte(`{"name":"g","members":[1,2,3]}`)))
	f.Add([]byte{0, 0, 0, 2})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 1})
	e := newEnvTB(f, sqliteBackend)
	name := uniqueName("fuzz")
	e.register(name)
	addr := e.srv.ChatAddr().String()
	login := protocol.AppendFrame(nil, protocol.OpLogin, 1, []byte(`{"username":"`+name+`","password":"`+testPassword+`"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if len(data) > 0 && data[0]&1 == 1 {
			_, _ = nc.Write(login)
		}
		_, _ = nc.Write(data)
		// Let the server chew on it, then prove it is alive.
		_ = nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				break
			}
		}
		c := dialAddr(t, addr)
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
		c.nc.Close()
	})
}
