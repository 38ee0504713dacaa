package chatload

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/reactor"
)

// recvLoops serves bare receivers on the reactor's event loops instead of a
// goroutine each. A quiet receiver that gets a push costs one read in a
// loop's pass over every ready connection, where a goroutine costs a
// wake-up, a read and a second read that finds the socket empty: on a
// machine the load generator shares with chatd, that difference is CPU
// taken from the server under test (one message to a 10,000-member group
// wakes 10,000 receivers at once).
type recvLoops struct {
	eng   *reactor.Engine
	mu    sync.Mutex
	conns []*reactor.Conn
}

// loopRecv is one receiver's state, owned by its loop once logged in.
type loopRecv struct {
	login     chan error // the login reply's outcome (or the close before it)
	loggedIn  bool
	frame     func(now time.Time, op protocol.Op, body []byte)
	chunkDone func()
}

// newRecvLoops starts an engine with one loop per core.
func newRecvLoops() (*recvLoops, error) {
	h := &recvLoops{}
	eng, err := reactor.New(recvHandler{}, reactor.Options{})
	if err != nil {
		return nil, fmt.Errorf("receiver loops: %w", err)
	}
	h.eng = eng
	return h, nil
}

// login dials addr, logs in with a token and, once chatd has answered,
// hands every frame that follows to frame (then chunkDone once per read),
// on the connection's loop.
func (h *recvLoops) login(ctx context.Context, addr, username, token, device string, frame func(time.Time, protocol.Op, []byte), chunkDone func()) error {
	req, err := protocol.AppendJSONFrame(nil, protocol.OpLogin, 1, &protocol.LoginReq{Username: username, Token: token, Device: device})
	if err != nil {
		return fmt.Errorf("encode login: %w", err)
	}
	c, err := h.eng.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	st := &loopRecv{login: make(chan error, 1), frame: frame, chunkDone: chunkDone}
	c.SetContext(st) // before the login goes out, so before any reply
	if err := c.Write(req); err != nil {
		c.Close()
		return fmt.Errorf("send login: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case err = <-st.login:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("login: %w", err)
	}
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	return nil
}

// keepalive pings every receiver each interval until stop closes, so
// chatd's idle timeout does not close receivers that only listen.
func (h *recvLoops) keepalive(every time.Duration, stop <-chan struct{}) {
	tickUntil(every, stop, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			_ = c.Write(pingFrame) // queued; the loop never changes it
		}
	})
}

// count is the number of receivers logged in.
func (h *recvLoops) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// close closes every receiver and stops the loops.
func (h *recvLoops) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.eng.Shutdown(ctx)
}

// recvHandler reads the receivers' frames on the loops.
type recvHandler struct{}

func (recvHandler) OnOpen(*reactor.Conn) {}

func (recvHandler) OnClose(c *reactor.Conn, err error) {
	if st, ok := c.Context().(*loopRecv); ok && !st.loggedIn {
		if err == nil {
			err = io.EOF
		}
		select { // OnData may have reported a refused login already
		case st.login <- fmt.Errorf("closed before the login reply: %w", err):
		default:
		}
	}
}

// OnData hands over every whole frame and leaves a partial one with the
// reactor, which offers it again with the rest.
func (recvHandler) OnData(c *reactor.Conn, data []byte) int {
	st, ok := c.Context().(*loopRecv)
	if !ok {
		return len(data)
	}
	now := time.Now()
	off := 0
	for {
		h, body, used, err := protocol.Decode(data[off:], maxFrameBody)
		if err != nil {
			c.Close()
			return len(data)
		}
		if used == 0 {
			break
		}
		off += used
		if st.loggedIn {
			st.frame(now, h.Op, body)
			continue
		}
		if h.Op == protocol.OpLogin && h.ReqID == 1 { // pushes before the reply are not ours yet
			var reply protocol.Status
			if err := protocol.Unmarshal(body, &reply); err != nil {
				st.login <- fmt.Errorf("decode login reply: %w", err)
				c.Close()
				return len(data)
			}
			if err := reply.Err(); err != nil {
				st.login <- err
				c.Close()
				return len(data)
			}
			st.loggedIn = true
			st.login <- nil
		}
	}
	if st.loggedIn && st.chunkDone != nil {
		st.chunkDone()
	}
	return off
}
