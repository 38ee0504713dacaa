package service

import (
	"sync"
	"time"

	"github.com/chatd/chatd/protocol"
)

// msg.typing (section 14): a notice pushed to the other online members of
// a conversation, at most once per (user, conversation) per typingWindow.
// Nothing is stored.

// typingWindow is the contract's minimum gap between two typing pushes of
// one user in one conversation.
const typingWindow = 3 * time.Second

// typingGate remembers when each (user, conversation) last pushed.
type typingGate struct {
	mu   sync.Mutex
	last map[typingKey]time.Time
}

type typingKey struct {
	user int64
	conv string
}

// allow reports whether a push may go now, and records it when it may.
// Expired entries are swept when the map has grown, so it stays bounded by
// the users typing within one window.
func (g *typingGate) allow(user int64, conv string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[typingKey]time.Time{}
	}
	k := typingKey{user, conv}
	if t, ok := g.last[k]; ok && now.Sub(t) < typingWindow {
		return false
	}
	if len(g.last) >= 4096 {
		for k, t := range g.last {
			if now.Sub(t) >= typingWindow {
				delete(g.last, k)
			}
		}
	}
	g.last[k] = now
	return true
}

func (s *Server) msgTyping(x *call, req *protocol.MsgTypingReq) (*protocol.Status, error) {
	ctx, me := x.ctx(), x.sess.userID
	if err := s.convMember(ctx, me, req.Conv); err != nil {
		return nil, err
	}
	if !s.typing.allow(me, req.Conv, time.Now()) {
		return &protocol.Status{Code: protocol.CodeOK}, nil
	}
	conv, err := protocol.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	var members []int64
	if conv.IsPrivate() {
		members = []int64{conv.Peer(me)}
	} else if members, err = s.groups.members(ctx, conv.GroupID()); err != nil {
		return nil, err
	}
	frame := encodePush(protocol.OpTyping, &protocol.TypingPush{Conv: req.Conv, UserID: me})
	others := make([]int64, 0, len(members))
	for _, uid := range members {
		if uid != me {
			others = append(others, uid)
		}
	}
	s.pushUsers(others, frame, "", 0, nil)
	return &protocol.Status{Code: protocol.CodeOK}, nil
}
