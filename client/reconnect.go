package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/chatd/chatd/protocol"
)

// backoff returns the wait before reconnect attempt n (0-based): an
// exponential step between MinBackoff and MaxBackoff with "equal jitter"
// (half fixed, half random), so that many clients cut off by one server
// restart do not come back in lockstep.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MinBackoff
	for i := 0; i < n && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}

// reconnectLoop dials until a connection is up and, when the client had a
// session, logged in again with its token; then it publishes the connection
// to the waiting calls. A refused token ends the loop (the application must
// log in with a password again). With several addresses it starts at the
// one after the node that was lost (fail-over) and goes around the list;
// the backoff grows once per round, so every node is tried at each step.
func (c *Client) reconnectLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closeCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.mu.Lock()
	lost := c.at
	c.mu.Unlock()
	n := len(c.addrs)
	for attempt := 0; ; attempt++ {
		select {
		case <-time.After(c.backoff(attempt / n)):
		case <-ctx.Done():
			return
		}
		at := (lost + 1 + attempt) % n
		cn, err := c.dial(ctx, c.addrs[at])
		if err != nil {
			c.log.Debug().Err(err).Int("attempt", attempt).Msg("reconnect dial failed")
			continue
		}
		c.mu.Lock()
		// Before the re-login: the backlog it brings comes from this node.
		c.at = at
		user, token := c.username, c.token
		c.mu.Unlock()
		if token != "" {
			resp := &protocol.LoginResp{}
			lctx, lcancel := context.WithTimeout(ctx, c.opts.CallTimeout)
			err = c.callOn(lctx, cn, protocol.OpLogin,
				&protocol.LoginReq{Username: user, Token: token, Device: c.opts.Device}, resp)
			lcancel()
			if err != nil {
				cn.close(ErrConnLost)
				if pe := protocol.AsError(err); pe != nil && pe.Code == protocol.CodeBadCredentials {
					c.mu.Lock()
					c.token = ""
					// Wake the calls waiting for the reconnect: they
					// see the state and fail with ErrConnLost.
					c.state = StateDisconnected
					close(c.ready)
					c.mu.Unlock()
					c.log.Info().Msg("session token refused after reconnect; giving up")
					if c.opts.OnState != nil {
						c.opts.OnState(StateDisconnected, err)
					}
					return
				}
				c.log.Debug().Err(err).Int("attempt", attempt).Msg("re-login failed")
				continue
			}
			c.mu.Lock()
			c.session = resp
			if resp.Token != "" {
				c.token = resp.Token
			}
			c.mu.Unlock()
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			cn.close(ErrClosed)
			return
		}
		if cn.reason() != nil {
			c.mu.Unlock()
			continue // died during the re-login: try again
		}
		c.cur = cn
		close(c.ready)
		c.mu.Unlock()
		if token != "" {
			convs := c.Session().Convs
			c.wg.Go(func() { c.fillGaps(cn, convs) })
		}
		c.log.Debug().Int("attempt", attempt).Str("addr", c.addrs[at]).Msg("reconnected")
		c.setState(StateConnected, nil)
		return
	}
}

// isConnLost reports whether err means the reply was lost with the
// connection (so an idempotent request may be sent again).
func isConnLost(err error) bool {
	return errors.Is(err, ErrConnLost)
}

// fillGaps fetches, after a re-login made by the client itself, the missed
// messages the server does not push: it pushes at most PushBacklog per
// conversation above the ack cursor (the contract's 500) and then only
// new messages, so anything between cursor+500 and the conversation's last
// seq at login would never reach the application, which did not make this
// login and cannot know it must sync. The pages are msg.sync calls whose
// reply the reader turns into pushes through the duplicate filter
// (emitFilled), on the reader goroutine like every other push. A
// connection lost meanwhile ends the fill; the next re-login starts over.
func (c *Client) fillGaps(cn *conn, convs []protocol.ConvInfo) {
	backlog := int64(protocol.DefaultLimits().PushBacklog)
	for _, ci := range convs {
		after := ci.AckSeq + backlog
		for after < ci.LastSeq {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.CallTimeout)
			var r protocol.MsgSyncResp
			err := c.callOnAs(ctx, cn, protocol.OpMsgSync,
				&protocol.MsgSyncReq{Conv: ci.Conv, AfterSeq: after, Limit: int(backlog)}, &r, true)
			cancel()
			if err != nil {
				c.log.Debug().Err(err).Str("conv", ci.Conv).Msg("missed-message fill failed")
				return
			}
			if len(r.Messages) == 0 {
				break
			}
			after = r.Messages[len(r.Messages)-1].Seq
			if !r.More {
				break
			}
		}
	}
}
