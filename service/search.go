package service

import (
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// msg.search (section 14): substring search over the text messages of the
// user's conversations, newest first, paged by msg_id.

func (s *Server) msgSearch(x *call, req *protocol.MsgSearchReq) (*protocol.MsgSearchResp, error) {
	ctx, me := x.ctx(), x.sess.userID
	q := store.SearchQuery{User: me, Query: req.Query, BeforeID: req.BeforeMsgID,
		Limit: s.cfg.Limits.MessageSearchLimit(req.Limit)}
	if req.Conv != "" {
		conv, err := protocol.ParseConv(req.Conv)
		if err != nil {
			return nil, err
		}
		if err := s.convMember(ctx, me, req.Conv); err != nil {
			return nil, err
		}
		q.Conv = conv
	}
	msgs, more, err := s.store.SearchMessages(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &protocol.MsgSearchResp{Status: protocol.OK(), Messages: make([]protocol.Message, 0, len(msgs)), More: more}
	for _, m := range msgs {
		resp.Messages = append(resp.Messages, toMessage(m))
	}
	// Fifty messages of 16 KiB may pass the frame limit: drop the oldest
	// matches, which the next page returns.
	x.fit(resp, func() bool {
		if len(resp.Messages) == 0 {
			return false
		}
		resp.Messages, resp.More = resp.Messages[:len(resp.Messages)/2], true
		return true
	})
	return resp, nil
}
