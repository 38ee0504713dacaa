package client

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// fakeServer is a small in-memory chat server speaking the wire protocol
// through package protocol. It implements just enough of the contract
// (accounts, tokens, private messages with per-conversation seqs, ack
// cursors, missed-message pushes after login, sync) to test the client's
// pipelining, pushes, reconnect and de-duplication without the real
// service. Unhandled ops get a canned reply from the replies map, or
// UNSUPPORTED_OP.
type fakeServer struct {
	ln net.Listener

	mu       sync.Mutex
	nextID   int64
	users    map[string]*fakeUser // by username
	tokens   map[string]int64
	conns    map[*fakeConn]bool
	msgs     map[string][]protocol.Message
	acks     map[string]int64 // "user/conv" -> seq
	replies  map[protocol.Op]any
	requests []fakeReq
	logins   int
	clientID map[string]protocol.MsgSendResp
	// noReply ops are read and never answered (timeouts).
	noReply map[protocol.Op]bool
	// dropNextSend makes the next msg.send be stored and its connection
	// cut before the reply, as a crash of the network would.
	dropNextSend bool
	// nodes are further listeners (addNode) sharing all of the above, as
	// the nodes of a cluster share one database; draining ones answer
	// every request UNAVAILABLE, as a node shutting down does.
	nodes    []net.Listener
	draining map[net.Listener]bool
}

type fakeUser struct {
	id       int64
	name     string
	password string
}

type fakeReq struct {
	op   protocol.Op
	body string
}

type fakeConn struct {
	ln   net.Listener // the listener (node) that accepted it
	nc   net.Conn
	wmu  sync.Mutex
	user int64
}

func (fc *fakeConn) send(op protocol.Op, reqID uint32, v any) {
	frame, err := protocol.AppendJSONFrame(nil, op, reqID, v)
	if err != nil {
		panic(err)
	}
	fc.sendRaw(frame)
}

func (fc *fakeConn) sendRaw(frame []byte) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = fc.nc.Write(frame)
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	s, err := startFakeServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// startFakeServer starts a fake server on a loopback port; stop ends it.
func startFakeServer() (*fakeServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &fakeServer{
		ln:       ln,
		users:    map[string]*fakeUser{},
		tokens:   map[string]int64{},
		conns:    map[*fakeConn]bool{},
		msgs:     map[string][]protocol.Message{},
		acks:     map[string]int64{},
		replies:  map[protocol.Op]any{},
		clientID: map[string]protocol.MsgSendResp{},
		noReply:  map[protocol.Op]bool{},
		draining: map[net.Listener]bool{},
	}
	go s.acceptLoop(ln)
	return s, nil
}

func (s *fakeServer) stop() {
	_ = s.ln.Close()
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	for _, ln := range nodes {
		_ = ln.Close()
	}
	s.dropAll()
}

// addNode starts another listener on the same state (a second node of the
// cluster) and returns its address.
func (s *fakeServer) addNode(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.nodes = append(s.nodes, ln)
	s.mu.Unlock()
	go s.acceptLoop(ln)
	return ln.Addr().String()
}

// listener returns the listener serving addr.
func (s *fakeServer) listener(addr string) net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range append([]net.Listener{s.ln}, s.nodes...) {
		if ln.Addr().String() == addr {
			return ln
		}
	}
	panic("no node at " + addr)
}

// killNode stops the node at addr: its listener closes (dials are
// refused) and its connections are cut, as kill -9 of a chatd does.
func (s *fakeServer) killNode(addr string) {
	ln := s.listener(addr)
	_ = ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.ln == ln {
			_ = fc.nc.Close()
			delete(s.conns, fc)
		}
	}
}

// drainNode makes the node at addr answer every request UNAVAILABLE, as
// a chatd does between SIGTERM and closing its connections.
func (s *fakeServer) drainNode(addr string) {
	ln := s.listener(addr)
	s.mu.Lock()
	s.draining[ln] = true
	s.mu.Unlock()
}

// connsOn counts the connections the node at addr holds.
func (s *fakeServer) connsOn(addr string) int {
	ln := s.listener(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for fc := range s.conns {
		if fc.ln == ln {
			n++
		}
	}
	return n
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) acceptLoop(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{ln: ln, nc: nc}
		s.mu.Lock()
		s.conns[fc] = true
		s.mu.Unlock()
		go s.serve(fc)
	}
}

// dropAll cuts every connection, as a network failure or restart would.
func (s *fakeServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		_ = fc.nc.Close()
		delete(s.conns, fc)
	}
}

// addUser creates an account directly.
func (s *fakeServer) addUser(name, password string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.users[name] = &fakeUser{id: s.nextID, name: name, password: password}
	return s.nextID
}

func (s *fakeServer) profile(id int64) protocol.Profile {
	for _, u := range s.users {
		if u.id == id {
			return protocol.Profile{UserID: id, Username: u.name, Nickname: u.name}
		}
	}
	return protocol.Profile{UserID: id}
}

func (s *fakeServer) serve(fc *fakeConn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, fc)
		s.mu.Unlock()
		_ = fc.nc.Close()
	}()
	br := bufio.NewReader(fc.nc)
	for {
		h, body, err := readFrame(br, protocol.DefaultMaxFrameBody)
		if err != nil {
			return
		}
		s.handle(fc, h, body)
	}
}

// readFrame reads and decodes one whole frame from r.
func readFrame(r io.Reader, maxBody int) (protocol.Header, []byte, error) {
	hdr := make([]byte, protocol.HeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return protocol.Header{}, nil, fmt.Errorf("read header: %w", err)
	}
	frame := make([]byte, protocol.FrameSize(hdr))
	copy(frame, hdr)
	if _, err := io.ReadFull(r, frame[protocol.HeaderSize:]); err != nil {
		return protocol.Header{}, nil, fmt.Errorf("read body: %w", err)
	}
	h, body, _, err := protocol.Decode(frame, maxBody)
	if err != nil {
		return protocol.Header{}, nil, fmt.Errorf("decode frame: %w", err)
	}
	return h, body, nil
}

func (s *fakeServer) fail(fc *fakeConn, h protocol.Header, e *protocol.Error) {
	fc.sendRaw(protocol.AppendErrorFrame(nil, h.Op, h.ReqID, e))
}

func (s *fakeServer) handle(fc *fakeConn, h protocol.Header, body []byte) {
	s.mu.Lock()
	s.requests = append(s.requests, fakeReq{op: h.Op, body: string(body)})
	canned, hasCanned := s.replies[h.Op]
	silent := s.noReply[h.Op]
	draining := s.draining[fc.ln]
	s.mu.Unlock()
	if silent {
		return
	}
	if draining {
		s.fail(fc, h, protocol.NewError(protocol.CodeUnavailable, "server shutting down"))
		return
	}
	if h.Op == protocol.OpRoomMedia {
		room, payload, err := protocol.ParseRoomMedia(body)
		if err == nil {
			fc.sendRaw(protocol.AppendRoomMediaPushFrame(nil, room, 99, payload))
		}
		return
	}
	req := protocol.NewRequest(h.Op)
	if req == nil || !h.Op.IsChatRequest() {
		s.fail(fc, h, protocol.UnsupportedOp(h.Op))
		return
	}
	if err := protocol.DecodeRequest(body, req, nil); err != nil {
		s.fail(fc, h, protocol.AsError(err))
		return
	}
	switch r := req.(type) {
	case *protocol.PingReq:
		fc.send(h.Op, h.ReqID, &protocol.PingResp{Status: protocol.OK(), Ts: 1700000000000})
	case *protocol.RegisterReq:
		s.mu.Lock()
		if _, dup := s.users[r.Username]; dup {
			s.mu.Unlock()
			s.fail(fc, h, protocol.NewError(protocol.CodeUsernameTaken, "username taken"))
			return
		}
		s.mu.Unlock()
		id := s.addUser(r.Username, r.Password)
		fc.send(h.Op, h.ReqID, &protocol.RegisterResp{Status: protocol.OK(), UserID: id})
	case *protocol.LoginReq:
		s.login(fc, h, r)
	case *protocol.MsgSendReq:
		s.sendMsg(fc, h, r)
	case *protocol.MsgSyncReq:
		s.mu.Lock()
		var out []protocol.Message
		for _, m := range s.msgs[r.Conv] {
			if m.Seq > r.AfterSeq && len(out) < (*protocol.Limits)(nil).SyncLimit(r.Limit) {
				out = append(out, m)
			}
		}
		more := len(out) > 0 && out[len(out)-1].Seq < int64(len(s.msgs[r.Conv]))
		s.mu.Unlock()
		fc.send(h.Op, h.ReqID, &protocol.MsgSyncResp{Status: protocol.OK(), Messages: out, More: more})
	case *protocol.MsgAckReq:
		s.mu.Lock()
		k := fmt.Sprintf("%d/%s", fc.user, r.Conv)
		s.acks[k] = max(s.acks[k], r.Seq)
		s.mu.Unlock()
		fc.send(h.Op, h.ReqID, &protocol.Status{Code: protocol.CodeOK})
	default:
		if hasCanned {
			fc.send(h.Op, h.ReqID, canned)
			return
		}
		s.fail(fc, h, protocol.UnsupportedOp(h.Op))
	}
}

func (s *fakeServer) login(fc *fakeConn, h protocol.Header, r *protocol.LoginReq) {
	s.mu.Lock()
	u := s.users[r.Username]
	ok := u != nil && ((r.Password != "" && r.Password == u.password) || (r.Token != "" && s.tokens[r.Token] == u.id))
	if !ok {
		s.mu.Unlock()
		s.fail(fc, h, protocol.NewError(protocol.CodeBadCredentials, "bad credentials"))
		return
	}
	s.logins++
	token := fmt.Sprintf("tok-%d-%d", u.id, s.logins)
	s.tokens[token] = u.id
	fc.user = u.id
	resp := &protocol.LoginResp{Status: protocol.OK(), UserID: u.id, Token: token, Profile: s.profile(u.id)}
	var missed []protocol.Message
	convs := make([]string, 0, len(s.msgs))
	for conv := range s.msgs {
		convs = append(convs, conv)
	}
	sort.Strings(convs)
	for _, conv := range convs {
		id, _ := protocol.ParseConv(conv)
		if !id.Has(u.id) {
			continue
		}
		ack := s.acks[fmt.Sprintf("%d/%s", u.id, conv)]
		list := s.msgs[conv]
		resp.Convs = append(resp.Convs, protocol.ConvInfo{Conv: conv, LastSeq: int64(len(list)), AckSeq: ack})
		for _, m := range list {
			if m.Seq > ack {
				missed = append(missed, m)
			}
		}
	}
	// The reply and the backlog go out before s.mu is let go: fc became a
	// push target above, and a message sent meanwhile must follow them, as
	// chatd orders a login's backlog before live pushes.
	defer s.mu.Unlock()
	fc.send(h.Op, h.ReqID, resp)
	for _, m := range missed {
		fc.send(protocol.OpMsgPush, 0, &protocol.MsgPush{Message: m})
	}
}

func (s *fakeServer) sendMsg(fc *fakeConn, h protocol.Header, r *protocol.MsgSendReq) {
	s.mu.Lock()
	if fc.user == 0 {
		s.mu.Unlock()
		s.fail(fc, h, protocol.Unauthenticated())
		return
	}
	key := fmt.Sprintf("%d/%s", fc.user, r.ClientMsgID)
	if prev, dup := s.clientID[key]; dup {
		s.mu.Unlock()
		fc.send(h.Op, h.ReqID, &prev)
		return
	}
	conv := protocol.PrivateConv(fc.user, r.ToUser)
	seq := int64(len(s.msgs[conv]) + 1)
	s.nextID++
	m := protocol.Message{MsgID: s.nextID, Conv: conv, Seq: seq, From: fc.user, Ts: 1700000000000 + seq,
		Type: r.TypeOrDefault(), Body: r.Body, ClientMsgID: r.ClientMsgID}
	s.msgs[conv] = append(s.msgs[conv], m)
	ackKey := fmt.Sprintf("%d/%s", fc.user, conv)
	if s.acks[ackKey] == seq-1 {
		s.acks[ackKey] = seq
	}
	resp := protocol.MsgSendResp{Status: protocol.OK(), MsgID: m.MsgID, Conv: conv, Seq: seq, Ts: m.Ts}
	s.clientID[key] = resp
	if s.dropNextSend {
		s.dropNextSend = false
		s.mu.Unlock()
		_ = fc.nc.Close()
		return
	}
	var targets []*fakeConn
	for c := range s.conns {
		if c != fc && (c.user == fc.user || c.user == r.ToUser) {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	fc.send(h.Op, h.ReqID, &resp)
	for _, c := range targets {
		c.send(protocol.OpMsgPush, 0, &protocol.MsgPush{Message: m})
	}
}

// push sends a push to every connection of user.
func (s *fakeServer) push(user int64, op protocol.Op, v any) {
	s.mu.Lock()
	var targets []*fakeConn
	for c := range s.conns {
		if c.user == user {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	for _, c := range targets {
		c.send(op, 0, v)
	}
}

// lastRequest returns the body of the latest request of op.
func (s *fakeServer) lastRequest(op protocol.Op) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].op == op {
			return s.requests[i].body
		}
	}
	return ""
}

func (s *fakeServer) setReply(op protocol.Op, v any) {
	s.mu.Lock()
	s.replies[op] = v
	s.mu.Unlock()
}
