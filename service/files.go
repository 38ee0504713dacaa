package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
)

// The front door of package files: file transfer (section 9) on the chat
// side. file.offer and file.fetch are registered as OpHandlers here; the
// bytes go over the file port served by package files, which calls back
// (announce) when an upload is verified so the "file" message is stored
// and the members are told. Nothing else in service touches package files.

// FileService is the file port attached to a chat Server by EnableFiles.
type FileService struct {
	s      *Server
	files  *files.Server
	ln     net.Listener
	host   string // host part of Config.FileAddr; "" or unspecified: announce the chat connection's local IP
	port   string // the bound port
	served chan error
	web    atomic.Pointer[webFiles] // set by AnnounceWeb: replies add file_url
}

// webFiles is the web port serving HTTP file transfers (section 17).
type webFiles struct{ scheme, host, port string }

// EnableFiles starts the file port on Config.FileAddr and registers the
// file.offer and file.fetch handlers. fc needs DataDir; its Meta,
// OnComplete and CanDownload (still a member of the file's conversation)
// are set here, and its Logger defaults to the server's. Call it
// before Start; shut the returned FileService down after the chat server.
func (s *Server) EnableFiles(fc files.Config) (*FileService, error) {
	if s.started.Load() {
		return nil, ErrStarted
	}
	f := &FileService{s: s, served: make(chan error, 1)}
	fc.Meta = s.store
	fc.OnComplete = f.announce
	fc.CanDownload = func(ctx context.Context, user int64, meta store.FileMeta) error {
		if meta.Recalled {
			return errFileRecalled
		}
		return s.convMember(ctx, user, meta.Conv)
	}
	if fc.Logger == nil {
		l := s.cfg.Logger // files adds its own component
		fc.Logger = &l
	}
	host, _, err := net.SplitHostPort(s.cfg.FileAddr)
	if err != nil {
		return nil, fmt.Errorf("service: file address %q: %w", s.cfg.FileAddr, err)
	}
	fsrv, err := files.New(fc)
	if err != nil {
		return nil, fmt.Errorf("service: file port: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.FileAddr)
	if err != nil {
		fsrv.Close()
		return nil, fmt.Errorf("service: listen on file address %s: %w", s.cfg.FileAddr, err)
	}
	if s.cfg.TLS != nil {
		ln = files.TLSListener(ln, s.cfg.TLS, s.cfg.RequireTLS)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	f.files, f.ln, f.host, f.port = fsrv, ln, host, port
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		f.host = ""
	}
	for op, h := range map[protocol.Op]OpHandler{protocol.OpFileOffer: f.offer, protocol.OpFileFetch: f.fetch} {
		if err := s.HandleOp(op, h); err != nil {
			ln.Close()
			fsrv.Close()
			return nil, err
		}
	}
	f.publish()
	go func() { f.served <- fsrv.Serve(ln) }()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("file port listening")
	return f, nil
}

// Files across nodes (section 19). An upload goes to the node that
// answered file.offer, which records itself as the file's node; file.fetch
// on any node answers with an address that can serve the bytes: its own
// when it has them on its disk (a single server, the holding node, or a
// files directory every node shares), else the holding node's, which every
// node publishes in the cluster directory (fileNodeInfo). A holding node
// that left or died is not named: the fetch answers UNAVAILABLE.

// fileNodeInfo is what a node publishes in the cluster directory about its
// file transfers.
type fileNodeInfo struct {
	Addr string `json:"file_addr"`          // the file port, host:port
	TLS  bool   `json:"file_tls,omitempty"` // the file port takes TLS
	URL  string `json:"file_url,omitempty"` // the web port's /files, when it has one
}

// publish tells the other nodes where this node's file port (and web
// port) can be reached. A port bound without a host is announced with
// this node's address as the bus sees it.
func (f *FileService) publish() {
	node := f.s.node
	if node == nil {
		return
	}
	host := f.host
	if host == "" {
		host = node.BusIP()
	}
	info := fileNodeInfo{Addr: net.JoinHostPort(host, f.port), TLS: f.s.cfg.TLS != nil}
	if w := f.web.Load(); w != nil {
		wh := w.host
		if wh == "" {
			wh = node.BusIP()
		}
		info.URL = w.scheme + "://" + net.JoinHostPort(wh, w.port) + "/files"
	}
	b, _ := json.Marshal(info)
	node.SetInfo(b)
}

// errFileNodeDown answers a fetch of a file whose bytes are on a node that
// is not live.
var errFileNodeDown = protocol.NewError(protocol.CodeUnavailable, "the node holding this file is not reachable; retry later")

// serverFor returns where the client connected at local should download
// meta from: file_addr, file_tls and file_url.
func (f *FileService) serverFor(meta store.FileMeta, local net.Addr) (string, bool, string, error) {
	node := f.s.node
	if node == nil || meta.Node == "" || meta.Node == node.ID() || f.files.Complete(meta.ID) {
		return f.addrFor(local), f.s.cfg.TLS != nil, f.urlFor(local), nil
	}
	b, ok := node.Info(meta.Node)
	var info fileNodeInfo
	if !ok || json.Unmarshal(b, &info) != nil || info.Addr == "" {
		f.s.log.Info().Int64("file_id", meta.ID).Str("file_node", meta.Node).Msg("file.fetch: holding node not live")
		return "", false, "", errFileNodeDown
	}
	return info.Addr, info.TLS, info.URL, nil
}

// Addr returns the file port's bound address.
func (f *FileService) Addr() net.Addr { return f.ln.Addr() }

// Files returns the file-port server (tokens, cleanup).
func (f *FileService) Files() *files.Server { return f.files }

// Shutdown stops accepting file connections and waits for transfers in
// progress until ctx ends, then interrupts them (partial uploads are kept).
func (f *FileService) Shutdown(ctx context.Context) error {
	err := f.files.Shutdown(ctx)
	if serr := <-f.served; !errors.Is(serr, files.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// addrFor returns the file address to announce to a client connected to
// the chat port at local: the configured host, or the chat connection's own
// local IP when the configuration names none (":9001"), with the bound port.
func (f *FileService) addrFor(local net.Addr) string {
	return net.JoinHostPort(announcedHost(f.host, local), f.port)
}

// announcedHost is host, or when that is empty the IP of local (the chat
// connection's end on this server, which the client evidently reaches).
func announcedHost(host string, local net.Addr) string {
	if host != "" {
		return host
	}
	if ta, ok := local.(*net.TCPAddr); ok && ta.IP != nil {
		host = ta.IP.String()
		if ta.Zone != "" {
			host += "%" + ta.Zone
		}
	}
	return host
}

// AnnounceWeb makes file.offer and file.fetch replies carry file_url: the
// web port bound at addr (https when tls), under the host the client
// reached the chat port at when addr's host is unspecified.
func (f *FileService) AnnounceWeb(addr net.Addr, tls bool) {
	w := &webFiles{scheme: "http"}
	if tls {
		w.scheme = "https"
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		w.port = strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() {
			w.host = ta.IP.String()
		}
	}
	f.web.Store(w)
	f.s.httpFiles.Store(true)
	f.publish()
}

// urlFor returns file_url for a client connected at local, "" without a
// web port.
func (f *FileService) urlFor(local net.Addr) string {
	w := f.web.Load()
	if w == nil {
		return ""
	}
	return w.scheme + "://" + net.JoinHostPort(announcedHost(w.host, local), w.port) + "/files"
}

// errFileRecalled answers a fetch or download of a file whose message was
// recalled.
var errFileRecalled = protocol.NewError(protocol.CodeNotFound, "file recalled")

// fileOfferReply and fileFetchReply add the 1.1 file_url to the replies.
type (
	fileOfferReply struct {
		*protocol.FileOfferResp
		FileURL string `json:"file_url,omitempty"`
	}
	fileFetchReply struct {
		*protocol.FileFetchResp
		FileURL string `json:"file_url,omitempty"`
	}
)

// offer handles file.offer: the target must be a friend or a group the user
// is in; the file is recorded and an upload token returned.
func (f *FileService) offer(ctx context.Context, r *Request) (any, error) {
	var req protocol.FileOfferReq
	if err := protocol.DecodeRequest(r.Body, &req, &f.s.cfg.Limits); err != nil {
		return nil, err
	}
	// The target must be one msg.send would accept.
	conv, err := f.s.convTo(ctx, r.UserID, nil, req.ToUser, req.ToGroup, "cannot send a file to yourself")
	if err != nil {
		return nil, err
	}
	// The upload goes to this node's file port: this node holds the bytes.
	var node string
	if f.s.node != nil {
		node = f.s.node.ID()
	}
	meta, err := f.s.store.CreateFile(ctx, store.FileMeta{Owner: r.UserID, Conv: conv.String(), Name: req.Name,
		Size: req.Size, SHA256: req.Sha256, CreatedAt: time.Now().UnixMilli(), Node: node})
	if err != nil {
		return nil, fmt.Errorf("file.offer: %w", err)
	}
	return &fileOfferReply{&protocol.FileOfferResp{Status: protocol.OK(), FileID: meta.ID,
		UploadToken: f.files.UploadToken(r.UserID, meta.ID), FileAddr: f.addrFor(r.LocalAddr), FileTLS: f.s.cfg.TLS != nil}, f.urlFor(r.LocalAddr)}, nil
}

// fetch handles file.fetch: members of the file's conversation get a
// download token for a complete file.
func (f *FileService) fetch(ctx context.Context, r *Request) (any, error) {
	var req protocol.FileFetchReq
	if err := protocol.DecodeRequest(r.Body, &req, &f.s.cfg.Limits); err != nil {
		return nil, err
	}
	meta, err := f.s.store.File(ctx, req.FileID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "file not found")
	}
	if err != nil {
		return nil, err
	}
	// Membership before completeness: a non-member learns nothing about
	// the file's state.
	if err := f.s.convMember(ctx, r.UserID, meta.Conv); err != nil {
		return nil, err
	}
	if meta.CompletedAt == 0 {
		return nil, protocol.NewError(protocol.CodeNotFound, "file upload not complete")
	}
	if meta.Recalled {
		return nil, errFileRecalled
	}
	addr, tls, url, err := f.serverFor(meta, r.LocalAddr)
	if err != nil {
		return nil, err
	}
	return &fileFetchReply{&protocol.FileFetchResp{Status: protocol.OK(), DownloadToken: f.files.DownloadToken(r.UserID, meta.ID),
		FileAddr: addr, Size: meta.Size, Sha256: meta.SHA256, FileTLS: tls, Name: meta.Name}, url}, nil
}

// announce is the files completion hook: it stores the "file" message
// through the msg.send path (ordered, delivered, acknowledged like any
// message, and kept for offline members), then pushes file.offered to the
// other members and file.ready to the owner. The message's idempotency key
// makes a repeated call (the file port retries after a failure) deliver
// nothing twice.
func (f *FileService) announce(ctx context.Context, meta store.FileMeta) error {
	s := f.s
	owner, err := s.store.UserByID(ctx, meta.Owner)
	if err != nil {
		return fmt.Errorf("announce file %d: owner: %w", meta.ID, err)
	}
	members, err := s.store.ConvMembers(ctx, meta.Conv)
	if err != nil {
		return fmt.Errorf("announce file %d: members: %w", meta.ID, err)
	}
	body := protocol.FileMessageBody(meta.ID)
	nm := store.NewMessage{Conv: meta.Conv, From: meta.Owner, Type: protocol.MsgFile, Body: body,
		ClientMsgID: "file:" + body, TS: time.Now().UnixMilli()}
	m, dup, err := s.PostMessage(ctx, nm)
	if err == nil && dup && (m.Type != protocol.MsgFile || m.Body != body) {
		// The owner used this key for another message: store the file
		// message without a key rather than lose it.
		s.log.Warn().Int64("file_id", meta.ID).Msg("file message key taken by another message")
		nm.ClientMsgID = ""
		_, dup, err = s.PostMessage(ctx, nm)
	}
	if err != nil {
		return fmt.Errorf("announce file %d: store message: %w", meta.ID, err)
	}
	if dup {
		return nil // announced by an earlier call
	}
	offered := encodePush(protocol.OpFileOffered, &protocol.FileOfferedPush{FileID: meta.ID, From: toProfile(owner),
		Name: meta.Name, Size: meta.Size, Sha256: meta.SHA256})
	for _, uid := range members {
		if uid != meta.Owner {
			s.pushToUser(uid, offered)
		}
	}
	s.pushToUser(meta.Owner, encodePush(protocol.OpFileReady, &protocol.FileReadyPush{FileID: meta.ID}))
	return nil
}
