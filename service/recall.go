package service

import (
	"context"
	"errors"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// msg.recall (section 14): a recall is a message of its own, appended and
// delivered through the msg.send path, so offline devices learn of it from
// their backlog and msg.sync.

func (s *Server) msgRecall(x *call, req *protocol.MsgRecallReq) (*protocol.MsgRecallResp, error) {
	ctx, me := x.ctx(), x.sess.userID
	conv, err := protocol.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	if err := s.convMember(ctx, me, req.Conv); err != nil {
		return nil, err
	}
	m, err := s.store.MessageAt(ctx, conv, req.Seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "no such message")
	}
	if err != nil {
		return nil, err
	}
	// Permission first: one who may not recall the message learns nothing
	// more about it.
	if err := s.mayRecall(ctx, conv, me, m); err != nil {
		return nil, err
	}
	if m.Type == store.TypeRecall {
		return nil, protocol.BadRequest("seq", "a recall cannot be recalled")
	}
	rm, _, release, err := s.appendAndDeliver(ctx, conv, x.cs, func() (store.Message, bool, error) {
		r, err := s.store.RecallMessage(ctx, conv, req.Seq, me, time.Now().UnixMilli())
		return r, false, err
	})
	switch {
	case errors.Is(err, store.ErrAlreadyRecalled):
		e := protocol.NewError(protocol.CodeAlreadyExists, "message already recalled")
		e.Seq = rm.Seq
		return nil, e
	case errors.Is(err, store.ErrNotRecallable):
		return nil, protocol.BadRequest("seq", "a recall cannot be recalled")
	case errors.Is(err, store.ErrNotFound):
		return nil, protocol.NewError(protocol.CodeNotFound, "no such message")
	case err != nil:
		return nil, err
	}
	x.then = func(bool) { release() }
	return &protocol.MsgRecallResp{Status: protocol.OK(), Seq: rm.Seq}, nil
}

// mayRecall applies the recall permissions: the sender within the recall
// window; in a group the owner any message, an admin its own and plain
// members' messages.
func (s *Server) mayRecall(ctx context.Context, conv protocol.ConvID, me int64, m store.Message) error {
	if m.From == me && time.Since(time.UnixMilli(m.TS)) <= s.cfg.RecallWindow {
		return nil
	}
	if conv.IsGroup() {
		gid := conv.GroupID()
		role, err := s.groupRole(ctx, gid, me)
		if err != nil {
			return err
		}
		switch role {
		case store.RoleOwner:
			return nil
		case store.RoleAdmin:
			if m.From == me {
				return nil
			}
			author, err := s.groupRole(ctx, gid, m.From)
			if err != nil {
				return err
			}
			// A former member's messages count as a plain member's.
			if author != store.RoleOwner && author != store.RoleAdmin {
				return nil
			}
		}
	}
	return protocol.NewError(protocol.CodeForbidden, "may not recall this message")
}
