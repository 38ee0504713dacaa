package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime/debug"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// handlerFunc runs one request on a pool worker. It returns the reply body
// (a protocol reply struct) or an error, and run sends it; a nil reply with
// a nil error sends nothing (the connection is gone). Handlers never write
// their own reply: one whose reply must be trimmed to the frame limit says
// how with x.fit or x.encode, and work that must follow the reply on the
// wire (login's backlog, msg.send's delivery) goes in x.then.
type handlerFunc func(x *call) (any, error)

// opEntry is one row of the dispatch table: the op's declaration (login,
// rate class) and its handler.
type opEntry struct {
	info *protocol.OpInfo
	fn   handlerFunc
	raw  bool // body is not decoded on the loop (registered OpHandlers)
}

// handle registers fn as the handler of spec's op. fn runs on a pool
// worker with the request decoded and validated as spec's request type,
// after the login check and rate limit the declaration asks for.
func handle[Q protocol.Request, R protocol.Body](s *Server, spec protocol.OpSpec[Q, R], fn func(x *call, req Q) (R, error)) {
	s.ops[spec.Op] = opEntry{info: spec.OpInfo, fn: func(x *call) (any, error) {
		rep, err := fn(x, x.req.(Q))
		var none R
		if err != nil || any(rep) == any(none) {
			return nil, err
		}
		return rep, nil
	}}
}

// call is one request on its way through the pool.
type call struct {
	s     *Server
	cs    *connState
	op    protocol.Op
	reqID uint32
	req   protocol.Request
	body  []byte // private copy of the body
	ent   opEntry
	sess  *Session // set when the op needs a session

	// Set by a handler that needs them (nil for most):
	encode func() ([]byte, error) // encodes the reply frame in place of a plain encoding
	then   func(sent bool)        // runs after the reply or error is queued; sent: the reply was
}

// fit makes run encode the reply v, calling shrink (which drops optional or
// trailing content) and encoding again while its body exceeds the maximum
// frame; shrink returns false when nothing more can go.
func (x *call) fit(v any, shrink func() bool) {
	x.encode = func() ([]byte, error) {
		for {
			frame, err := protocol.AppendJSONFrame(nil, x.op, x.reqID, v)
			if err != nil {
				return nil, err
			}
			if len(frame)-protocol.HeaderSize <= x.s.cfg.Limits.MaxFrameBody || !shrink() {
				return frame, nil
			}
		}
	}
}

func (x *call) ctx() context.Context { return x.s.ctx }

// run executes the call on a pool worker: session check, the handler with
// panic recovery, the reply, then the handler's follow-up.
func (x *call) run() {
	defer x.cs.inflight.Add(-1)
	defer func() {
		if r := recover(); r != nil {
			x.s.panicked(x, r)
		}
	}()
	if x.ent.info.NeedsLogin {
		x.sess = x.cs.session()
		if x.sess == nil {
			x.s.replyErr(x.cs, x.op, x.reqID, protocol.Unauthenticated())
			return
		}
	}
	if h := x.s.testHook.Load(); h != nil {
		(*h)(x.op)
	}
	reply, err := x.ent.fn(x)
	sent := false
	if x.then != nil {
		// Deferred so that it runs even if sending the reply panics (a
		// held sequencer ticket must be released).
		defer func() { x.then(sent) }()
	}
	if err != nil {
		x.s.replyErr(x.cs, x.op, x.reqID, x.s.mapErr(x, err))
		return
	}
	if reply != nil {
		sent = x.s.sendReply(x, reply)
	}
}

// sendReply queues a handler's reply, encoded by x.encode when the handler
// set it, and reports whether it was.
func (s *Server) sendReply(x *call, v any) bool {
	if x.encode == nil {
		return s.reply(x.cs, x.op, x.reqID, v)
	}
	frame, err := x.encode()
	if err != nil {
		s.replyErr(x.cs, x.op, x.reqID, s.mapErr(x, err))
		return false
	}
	countReply(x.op, protocol.CodeOK)
	_ = x.cs.write(outFrame{x.op, frame})
	return true
}

// panicked logs a recovered panic with a correlation id, answers INTERNAL
// with that id and closes the connection (its state may be inconsistent).
func (s *Server) panicked(x *call, r any) {
	metricPanics.Inc()
	corr := newCorrID()
	ev := s.log.Error().Str("corr", corr).Uint64("conn", x.cs.id).Str("op", x.op.String()).
		Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack())
	if sess := x.cs.session(); sess != nil {
		ev = ev.Int64("user", sess.userID)
	}
	ev.Msg("handler panic")
	s.replyErr(x.cs, x.op, x.reqID, protocol.Internal(corr))
	x.cs.closeNow("handler panic")
}

func newCorrID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mapErr turns a handler error into the reply error: protocol errors as
// they are, store sentinels by their meaning, anything else INTERNAL with a
// logged correlation id.
func (s *Server) mapErr(x *call, err error) *protocol.Error {
	if pe := protocol.AsError(err); pe != nil {
		return pe
	}
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return protocol.NewError(protocol.CodeUnavailable, "store unavailable, retry later")
	case errors.Is(err, store.ErrNotFound):
		return protocol.NewError(protocol.CodeNotFound, "not found")
	case errors.Is(err, store.ErrAlreadyFriends), errors.Is(err, store.ErrRequestPending),
		errors.Is(err, store.ErrAlreadyMember):
		return protocol.NewError(protocol.CodeAlreadyExists, "already exists")
	case errors.Is(err, store.ErrUsernameTaken):
		return protocol.NewError(protocol.CodeUsernameTaken, "username taken")
	}
	corr := newCorrID()
	ev := s.log.Error().Str("corr", corr).Uint64("conn", x.cs.id).Str("op", x.op.String()).Err(err)
	if x.sess != nil {
		ev = ev.Int64("user", x.sess.userID)
	}
	ev.Msg("request failed")
	return protocol.Internal(corr)
}

// reply encodes v once and queues it as the reply to op/reqID; false when
// it could not be encoded (INTERNAL was sent instead).
func (s *Server) reply(cs *connState, op protocol.Op, reqID uint32, v any) bool {
	frame, err := protocol.AppendJSONFrame(nil, op, reqID, v)
	if err != nil {
		corr := newCorrID()
		s.log.Error().Str("corr", corr).Uint64("conn", cs.id).Str("op", op.String()).Err(err).Msg("encode reply")
		s.replyErr(cs, op, reqID, protocol.Internal(corr))
		return false
	}
	code := protocol.CodeOK
	if r, ok := v.(protocol.Replier); ok {
		code = protocol.StatusOf(r).Code
	}
	countReply(op, code)
	_ = cs.write(outFrame{op, frame})
	return true
}

// shrinkConvs drops the optional last messages first, then halves the list.
func shrinkConvs(convs *[]protocol.ConvInfo) bool {
	dropped := false
	for i := range *convs {
		if (*convs)[i].Last != nil {
			(*convs)[i].Last = nil
			dropped = true
		}
	}
	if dropped {
		return true
	}
	if len(*convs) == 0 {
		return false
	}
	*convs = (*convs)[:len(*convs)/2]
	return true
}

// replyErr queues a failure reply.
func (s *Server) replyErr(cs *connState, op protocol.Op, reqID uint32, err error) {
	e := protocol.AsError(err)
	if e == nil {
		e = protocol.Internal(newCorrID())
	}
	countReply(op, e.Code)
	_ = cs.write(outFrame{op, protocol.AppendErrorFrame(nil, op, reqID, e)})
}

// encodePush encodes a push body once, for any number of recipients.
func encodePush(op protocol.Op, v any) outFrame {
	frame, err := protocol.AppendJSONFrame(nil, op, 0, v)
	if err != nil {
		// Push bodies are plain structs of strings and numbers.
		panic(fmt.Sprintf("service: encode %s push: %v", op, err))
	}
	return outFrame{op, frame}
}

// Request is a chat-port request handed to an OpHandler registered with
// HandleOp (for example the file transfer ops).
type Request struct {
	Op         protocol.Op
	ReqID      uint32
	Body       []byte // the JSON body; owned by the handler
	UserID     int64  // the logged-in user
	ConnID     uint64
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// OpHandler handles one request on a pool worker (it may block on I/O). It
// returns the reply body (a protocol reply struct with Status OK) or an
// error: a *protocol.Error is sent as it is, store sentinel errors map to
// their codes, anything else is INTERNAL with a logged correlation id.
type OpHandler func(ctx context.Context, r *Request) (reply any, err error)

// ErrStarted is returned by HandleOp after Start.
var ErrStarted = errors.New("service: server already started")

// HandleOp registers h for a chat request op that needs a logged-in
// session, replacing the built-in handler (file.offer and file.fetch answer
// UNAVAILABLE until a handler is registered). Call it before Start.
func (s *Server) HandleOp(op protocol.Op, h OpHandler) error {
	if s.started.Load() {
		return ErrStarted
	}
	if !op.IsChatRequest() || !op.NeedsAuth() || !op.HasReply() {
		return fmt.Errorf("service: op %s cannot have a registered handler", op)
	}
	s.ops[op] = opEntry{info: op.Info(), raw: true, fn: func(x *call) (any, error) {
		return h(x.ctx(), &Request{Op: x.op, ReqID: x.reqID, Body: x.body, UserID: x.sess.userID,
			ConnID: x.cs.id, RemoteAddr: x.cs.c.RemoteAddr(), LocalAddr: x.cs.c.LocalAddr()})
	}}
	return nil
}

// buildOps fills the dispatch table with the built-in handlers. Ping and
// room.media are answered on the loop (handleFrame).
func (s *Server) buildOps() {
	s.ops = map[protocol.Op]opEntry{}
	handle(s, protocol.Register, s.register)
	handle(s, protocol.Login, s.login)
	handle(s, protocol.Logout, s.logout)
	handle(s, protocol.AccountPassword, s.accountPassword)
	handle(s, protocol.AccountSessions, s.accountSessions)
	handle(s, protocol.AccountRevoke, s.accountRevoke)
	handle(s, protocol.AccountDelete, s.accountDelete)
	handle(s, protocol.ProfileGet, s.profileGet)
	handle(s, protocol.ProfileUpdate, s.profileUpdate)
	handle(s, protocol.UserSearch, s.userSearch)
	handle(s, protocol.FriendRequest, s.friendRequest)
	handle(s, protocol.FriendRespond, s.friendRespond)
	handle(s, protocol.FriendRemove, s.friendRemove)
	handle(s, protocol.FriendList, s.friendList)
	handle(s, protocol.FriendPending, s.friendPending)
	handle(s, protocol.MsgSend, s.msgSend)
	handle(s, protocol.MsgSync, s.msgSync)
	handle(s, protocol.MsgAck, s.msgAck)
	handle(s, protocol.MsgRead, s.msgRead)
	handle(s, protocol.ConvList, s.convList)
	handle(s, protocol.MsgRecall, s.msgRecall)
	handle(s, protocol.MsgTyping, s.msgTyping)
	handle(s, protocol.MsgSearch, s.msgSearch)
	handle(s, protocol.GroupCreate, s.groupCreate)
	handle(s, protocol.GroupJoin, s.groupJoin)
	handle(s, protocol.GroupLeave, s.groupLeave)
	handle(s, protocol.GroupKick, s.groupKick)
	handle(s, protocol.GroupUpdate, s.groupUpdate)
	handle(s, protocol.GroupSetRole, s.groupSetRole)
	handle(s, protocol.GroupMute, s.groupMute)
	handle(s, protocol.GroupTransfer, s.groupTransfer)
	handle(s, protocol.GroupMembers, s.groupMembers)
	handle(s, protocol.GroupList, s.groupList)
	handle(s, protocol.GroupDismiss, s.groupDismiss)
	handle(s, protocol.FileOffer, filesDisabled[*protocol.FileOfferReq, *protocol.FileOfferResp])
	handle(s, protocol.FileFetch, filesDisabled[*protocol.FileFetchReq, *protocol.FileFetchResp])
	handle(s, protocol.RoomCreate, s.roomCreate)
	handle(s, protocol.RoomJoin, s.roomJoin)
	handle(s, protocol.RoomLeave, s.roomLeave)
	handle(s, protocol.RoomMembers, s.roomMembers)
	handle(s, protocol.RoomSay, s.roomSay)
}

// filesDisabled answers the file ops until a file service registers
// handlers for them.
func filesDisabled[Q, R any](*call, Q) (R, error) {
	var none R
	return none, protocol.NewError(protocol.CodeUnavailable, "file transfer not enabled")
}
