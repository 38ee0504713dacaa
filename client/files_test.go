package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// fakeFileServer speaks the file-port exchange of section 9. It keeps what
// arrived on a cut connection, so uploads resume, and can cut the first
// transfer after cutAt bytes to exercise resume.
type fakeFileServer struct {
	ln net.Listener

	mu       sync.Mutex
	held     []byte // upload: bytes received so far
	want     string // upload: expected sha256
	size     int64
	content  []byte // download: the file
	cutAt    int    // cut the next transfer after this many bytes (0: never)
	offsets  []int64
	complete bool
}

func newFakeFileServer(t *testing.T) *fakeFileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFileServer{ln: ln}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(nc)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return f
}

func (f *fakeFileServer) port() string {
	_, p, _ := net.SplitHostPort(f.ln.Addr().String())
	return p
}

func (f *fakeFileServer) serve(nc net.Conn) {
	defer nc.Close()
	h, body, err := readFrame(nc, 1<<16)
	if err != nil {
		return
	}
	f.mu.Lock()
	cut := f.cutAt
	f.cutAt = 0
	f.mu.Unlock()
	switch h.Op {
	case protocol.OpFileUpload:
		var req protocol.FileUploadReq
		if protocol.DecodeRequest(body, &req, nil) != nil {
			return
		}
		f.mu.Lock()
		off := int64(len(f.held))
		f.offsets = append(f.offsets, req.Offset)
		f.mu.Unlock()
		out, _ := protocol.AppendJSONFrame(nil, h.Op, h.ReqID, &protocol.FileUploadResp{Status: protocol.OK(), Offset: off})
		_, _ = nc.Write(out)
		want := f.size - off
		if cut > 0 {
			want = min(want, int64(cut))
		}
		buf := make([]byte, want)
		n, _ := io.ReadFull(nc, buf)
		f.mu.Lock()
		f.held = append(f.held, buf[:n]...)
		done := int64(len(f.held)) == f.size
		sum := sha256.Sum256(f.held)
		ok := hex.EncodeToString(sum[:]) == f.want
		if done && !ok {
			f.held = nil
		}
		f.complete = done && ok
		f.mu.Unlock()
		if !done {
			return // cut
		}
		st := protocol.OK()
		if !ok {
			st = protocol.Status{Code: protocol.CodeBadRequest, Message: "sha256 mismatch"}
		}
		out, _ = protocol.AppendJSONFrame(nil, h.Op, h.ReqID, &st)
		_, _ = nc.Write(out)
	case protocol.OpFileDownload:
		var req protocol.FileDownloadReq
		if protocol.DecodeRequest(body, &req, nil) != nil {
			return
		}
		f.mu.Lock()
		content := f.content
		f.offsets = append(f.offsets, req.Offset)
		f.mu.Unlock()
		out, _ := protocol.AppendJSONFrame(nil, h.Op, h.ReqID, &protocol.FileDownloadResp{Status: protocol.OK(), Size: int64(len(content))})
		_, _ = nc.Write(out)
		rest := content[req.Offset:]
		if cut > 0 {
			rest = rest[:min(cut, len(rest))]
		}
		_, _ = nc.Write(rest)
	}
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// progressLog records progress calls. Progress may go back on a resume:
// bytes written into a connection that was then cut were never held by the
// server, and the next attempt restarts from the server's offset.
type progressLog struct {
	t     *testing.T
	mu    sync.Mutex
	last  int64
	total int64
	calls int
}

func (p *progressLog) fn(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done > total || done < 0 {
		p.t.Errorf("progress %d outside 0..%d", done, total)
	}
	p.last, p.total = done, total
	p.calls++
}

func TestSendFileResumesAfterCut(t *testing.T) {
	s := newFakeServer(t)
	fs := newFakeFileServer(t)
	content := randomBytes(200_000)
	sum := sha256.Sum256(content)
	fs.size = int64(len(content))
	fs.want = hex.EncodeToString(sum[:])
	fs.cutAt = 70_000
	// ":port" exercises the unspecified-host rule: dial the chat host.
	s.setReply(protocol.OpFileOffer, &protocol.FileOfferResp{Status: protocol.OK(), FileID: 31,
		UploadToken: "up-token", FileAddr: ":" + fs.port()})
	c := dialT(t, s.addr(), Options{MinBackoff: 1, MaxBackoff: 2})
	path := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	pl := &progressLog{t: t}
	id, err := c.SendFile(ctxT(t), Target{User: 2}, path, pl.fn)
	if err != nil {
		t.Fatal(err)
	}
	if id != 31 {
		t.Fatalf("file id %d", id)
	}
	if !sameJSON(t, s.lastRequest(protocol.OpFileOffer),
		`{"to_user":2,"name":"photo.jpg","size":200000,"sha256":"`+fs.want+`"}`) {
		t.Fatalf("offer %s", s.lastRequest(protocol.OpFileOffer))
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.complete || !bytes.Equal(fs.held, content) {
		t.Fatalf("server holds %d bytes, complete=%v", len(fs.held), fs.complete)
	}
	if len(fs.offsets) != 2 {
		t.Fatalf("want 2 upload connections (cut + resume), got %d", len(fs.offsets))
	}
	if pl.last != int64(len(content)) || pl.total != int64(len(content)) {
		t.Fatalf("last progress %d/%d", pl.last, pl.total)
	}
}

func TestUploadChecksumMismatchIsBadRequest(t *testing.T) {
	s := newFakeServer(t)
	fs := newFakeFileServer(t)
	fs.size = 10
	fs.want = "0000000000000000000000000000000000000000000000000000000000000000"
	c := dialT(t, s.addr(), Options{})
	err := c.Upload(ctxT(t), fs.ln.Addr().String(), "tok", bytes.NewReader([]byte("0123456789")), 10, nil)
	if protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("want BAD_REQUEST, got %v", err)
	}
}

func TestDownloadFileResumesAndVerifies(t *testing.T) {
	s := newFakeServer(t)
	fs := newFakeFileServer(t)
	fs.content = randomBytes(150_000)
	fs.cutAt = 40_000
	sum := sha256.Sum256(fs.content)
	s.setReply(protocol.OpFileFetch, &protocol.FileFetchResp{Status: protocol.OK(), DownloadToken: "dl",
		FileAddr: fs.ln.Addr().String(), Size: int64(len(fs.content)), Sha256: hex.EncodeToString(sum[:])})
	c := dialT(t, s.addr(), Options{MinBackoff: 1, MaxBackoff: 2})
	dest := filepath.Join(t.TempDir(), "got.bin")
	pl := &progressLog{t: t}
	if err := c.DownloadFile(ctxT(t), 7, dest, pl.fn); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fs.content) {
		t.Fatal("downloaded bytes differ")
	}
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Fatal("part file left behind")
	}
	fs.mu.Lock()
	offs := fs.offsets
	fs.mu.Unlock()
	if len(offs) != 2 || offs[0] != 0 || offs[1] != 40_000 {
		t.Fatalf("download offsets %v, want [0 40000]", offs)
	}
	if pl.last != int64(len(fs.content)) {
		t.Fatalf("last progress %d", pl.last)
	}
}

func TestDownloadFileRejectsWrongDigest(t *testing.T) {
	s := newFakeServer(t)
	fs := newFakeFileServer(t)
	fs.content = []byte("hello")
	s.setReply(protocol.OpFileFetch, &protocol.FileFetchResp{Status: protocol.OK(), DownloadToken: "dl",
		FileAddr: fs.ln.Addr().String(), Size: 5, Sha256: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"})
	c := dialT(t, s.addr(), Options{})
	dest := filepath.Join(t.TempDir(), "x")
	if err := c.DownloadFile(ctxT(t), 7, dest, nil); err == nil {
		t.Fatal("a corrupt download was accepted")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("corrupt file was written to dest")
	}
}

func TestResolveFileAddr(t *testing.T) {
	c := &Client{addrs: []string{"other.example:9000", "chat.example:9000"}, at: 1}
	for in, want := range map[string]string{
		":9001":          "chat.example:9001",
		"0.0.0.0:9001":   "chat.example:9001",
		"[::]:9001":      "chat.example:9001",
		"10.1.2.3:9001":  "10.1.2.3:9001",
		"files.lan:7000": "files.lan:7000",
	} {
		if got := c.ResolveFileAddr(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestDiscoverUnicast(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if !protocol.IsDiscoverRequest(buf[:n]) {
				continue
			}
			b, _ := protocol.Marshal(&protocol.DiscoverReply{Name: "office", Version: "1.0",
				ChatAddr: ":9000", FileAddr: ":9001"})
			_, _ = pc.WriteToUDP(b, from)
		}
	}()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	got, err := Discover(ctxT(t), "127.0.0.1:"+port, 300_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "office" || got[0].ChatAddr != "127.0.0.1:9000" {
		t.Fatalf("discovered %+v", got)
	}
}
