package service

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
	"github.com/rs/zerolog"
)

var _ = register("FileTransferPrivate", testFileTransferPrivate)
var _ = register("FileTransferGroup", testFileTransferGroup)

// newFileEnv is newEnv with the file port enabled on ":0" (no host, so the
// announced address takes the chat connection's local IP).
func newFileEnv(t *testing.T, b backend, tweaks ...func(*Config)) (*env, *FileService) {
	t.Helper()
	e := &env{t: t, scfg: b.cfg(t), tweaks: tweaks}
	st, srv, cfg, fs := startFileServer(t, e.scfg, files.Config{}, tweaks...)
	e.st, e.srv, e.cfg = st, srv, cfg
	if _, err := srv.EnableFiles(files.Config{DataDir: t.TempDir()}); err != ErrStarted {
		t.Fatalf("EnableFiles after Start: %v, want ErrStarted", err)
	}
	t.Cleanup(e.close) // runs last: closes the store
	t.Cleanup(func() { shutdownFiles(t, fs) })
	return e, fs
}

// startFileServer opens a store and starts a chat server with the file
// port on it; the caller shuts them down.
func startFileServer(tb testing.TB, scfg store.Config, fc files.Config, tweaks ...func(*Config)) (store.Store, *Server, Config, *FileService) {
	tb.Helper()
	st, err := store.Open(context.Background(), scfg)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	cfg := Config{ChatAddr: "127.0.0.1:0", FileAddr: ":0", Store: st, Argon2: cheapArgon2, Loops: 2, Workers: 64,
		Logger: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)}
	for _, f := range tweaks {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	if fc.DataDir == "" {
		fc.DataDir = tb.TempDir()
	}
	fs, err := srv.EnableFiles(fc)
	if err != nil {
		tb.Fatalf("enable files: %v", err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatalf("start: %v", err)
	}
	return st, srv, cfg, fs
}

func shutdownFiles(tb testing.TB, fs *FileService) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fs.Shutdown(ctx); err != nil {
		tb.Errorf("file port shutdown: %v", err)
	}
}

func randomFile(seed uint64, n int) ([]byte, string) {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	rand.NewChaCha8(s).Read(b)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// upload sends data with an offer's token to its announced address.
func uploadOffer(t *testing.T, r *protocol.FileOfferResp, data []byte) {
	t.Helper()
	if _, err := files.Upload(context.Background(), r.FileAddr, r.UploadToken, 0, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("upload: %v", err)
	}
}

// fetchAndDownload fetches a file as c and downloads it.
func fetchAndDownload(t *testing.T, c *tclient, fileID int64) []byte {
	t.Helper()
	var fr protocol.FileFetchResp
	c.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: fileID}, &fr)
	var buf bytes.Buffer
	size, err := files.Download(context.Background(), fr.FileAddr, fr.DownloadToken, 0, &buf)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if size != fr.Size || int64(buf.Len()) != size {
		t.Fatalf("download size %d, fetch said %d, got %d bytes", size, fr.Size, buf.Len())
	}
	sum := sha256.Sum256(buf.Bytes())
	if hex.EncodeToString(sum[:]) != fr.Sha256 {
		t.Fatal("downloaded bytes do not match the fetched sha256")
	}
	return buf.Bytes()
}

// collect reads pushes until one of each op arrived, skipping others, and
// returns the first of each.
func collect(t *testing.T, c *tclient, ops ...protocol.Op) map[protocol.Op]frame {
	t.Helper()
	got := make(map[protocol.Op]frame, len(ops))
	for len(got) < len(ops) {
		f := c.push()
		for _, op := range ops {
			if f.op == op {
				if _, seen := got[op]; !seen {
					got[op] = f
				}
			}
		}
	}
	return got
}

func decodePush(t *testing.T, f frame, v any) {
	t.Helper()
	if err := protocol.Unmarshal(f.body, v); err != nil {
		t.Fatalf("push %s %q: %v", f.op, f.body, err)
	}
}

func testFileTransferPrivate(t *testing.T, b backend) {
	e, fs := newFileEnv(t, b)
	a, bb, stranger := e.user("fa"), e.user("fb"), e.user("fs")
	befriend(t, a, bb)
	data, sum := randomFile(1, 3<<20+123)

	// Offer validation: target, size, name, checksum format.
	ok := &protocol.FileOfferReq{ToUser: bb.userID, Name: "holiday photo.jpg", Size: int64(len(data)), Sha256: sum}
	bad := func(code protocol.Code, mod func(r *protocol.FileOfferReq)) {
		t.Helper()
		r := *ok
		mod(&r)
		a.must(code, protocol.OpFileOffer, &r, nil)
	}
	bad(protocol.CodeForbidden, func(r *protocol.FileOfferReq) { r.ToUser = stranger.userID })
	bad(protocol.CodeNotFound, func(r *protocol.FileOfferReq) { r.ToUser = 1 << 40 })
	bad(protocol.CodeBadRequest, func(r *protocol.FileOfferReq) { r.ToUser = a.userID })
	bad(protocol.CodeTooLarge, func(r *protocol.FileOfferReq) { r.Size = protocol.DefaultLimits().MaxFileSize + 1 })
	bad(protocol.CodeBadRequest, func(r *protocol.FileOfferReq) { r.Name = "../etc/passwd" })
	bad(protocol.CodeBadRequest, func(r *protocol.FileOfferReq) { r.Name = strings.Repeat("n", 256) })
	bad(protocol.CodeBadRequest, func(r *protocol.FileOfferReq) { r.Sha256 = strings.ToUpper(sum) })
	bad(protocol.CodeBadRequest, func(r *protocol.FileOfferReq) { r.ToGroup = 5 })
	a.must(protocol.CodeBadRequest, protocol.OpFileOffer, `{"to_user":1,"name":"x","size":"big","sha256":"`+sum+`"}`, nil)
	// Before login: UNAUTHENTICATED; on the chat port the file-port ops are
	// unknown.
	anon := e.dial()
	anon.must(protocol.CodeUnauthenticated, protocol.OpFileOffer, ok, nil)
	a.must(protocol.CodeUnsupportedOp, protocol.OpFileUpload, &protocol.FileUploadReq{UploadToken: "x"}, nil)

	var offer protocol.FileOfferResp
	a.must(protocol.CodeOK, protocol.OpFileOffer, ok, &offer)
	_, port, _ := net.SplitHostPort(fs.Addr().String())
	if offer.FileAddr != net.JoinHostPort("127.0.0.1", port) {
		t.Fatalf("file_addr %q, want the chat connection's IP with port %s", offer.FileAddr, port)
	}
	if offer.FileID <= 0 || offer.UploadToken == "" {
		t.Fatalf("offer reply %+v", offer)
	}
	// Not complete yet: NOT_FOUND for members, FORBIDDEN for others.
	bb.must(protocol.CodeNotFound, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)
	stranger.must(protocol.CodeForbidden, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)

	uploadOffer(t, &offer, data)

	// The recipient: the stored "file" message, then file.offered.
	got := collect(t, bb, protocol.OpMsgPush, protocol.OpFileOffered)
	var fo protocol.FileOfferedPush
	decodePush(t, got[protocol.OpFileOffered], &fo)
	if fo.FileID != offer.FileID || fo.From.UserID != a.userID || fo.Name != ok.Name || fo.Size != ok.Size || fo.Sha256 != sum {
		t.Fatalf("file.offered %+v", fo)
	}
	var mp protocol.MsgPush
	decodePush(t, got[protocol.OpMsgPush], &mp)
	m := mp.Message
	if m.Type != protocol.MsgFile || m.Body != strconv.FormatInt(offer.FileID, 10) || m.From != a.userID || m.Conv != protocol.PrivateConv(a.userID, bb.userID) {
		t.Fatalf("file message %+v", m)
	}
	// The sender: file.ready (and the message on its sessions).
	var ready protocol.FileReadyPush
	a.waitFor(protocol.OpFileReady, &ready)
	if ready.FileID != offer.FileID {
		t.Fatalf("file.ready %+v", ready)
	}
	// The message is acknowledged like any other.
	bb.must(protocol.CodeOK, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: m.Conv, Seq: m.Seq}, nil)

	if got := fetchAndDownload(t, bb, offer.FileID); !bytes.Equal(got, data) {
		t.Fatal("recipient downloaded different bytes")
	}
	if got := fetchAndDownload(t, a, offer.FileID); !bytes.Equal(got, data) {
		t.Fatal("sender downloaded different bytes")
	}
	stranger.must(protocol.CodeForbidden, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)
	bb.must(protocol.CodeNotFound, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID + 1000}, nil)
	bb.must(protocol.CodeBadRequest, protocol.OpFileFetch, &protocol.FileFetchReq{}, nil)

	// Uploading again with the same token: OK, announced once only.
	bb.drain()
	uploadOffer(t, &offer, data)
	bb.noPush()

	// An offline recipient finds the file message after login.
	var offer2 protocol.FileOfferResp
	data2, sum2 := randomFile(2, 1000)
	a.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: bb.userID, Name: "b.txt", Size: 1000, Sha256: sum2}, &offer2)
	var p protocol.ProfileGetResp
	bb.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: bb.userID}, &p)
	bb.nc.Close()
	uploadOffer(t, &offer2, data2)
	a.waitFor(protocol.OpFileReady, nil)
	b2, _ := e.login(p.Profile.Username, "")
	b2.waitFor(protocol.OpMsgPush, &mp)
	if mp.Message.Type != protocol.MsgFile || mp.Message.Body != strconv.FormatInt(offer2.FileID, 10) {
		t.Fatalf("backlog message %+v", mp.Message)
	}
	if got := fetchAndDownload(t, b2, offer2.FileID); !bytes.Equal(got, data2) {
		t.Fatal("bytes differ")
	}
}

func testFileTransferGroup(t *testing.T, b backend) {
	e, _ := newFileEnv(t, b)
	owner, member, outsider := e.user("go"), e.user("gm"), e.user("gx")
	befriend(t, owner, member)
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "files", Members: []int64{member.userID}}, &g)
	gid := g.Group.GroupID
	data, sum := randomFile(3, 200<<10)
	req := &protocol.FileOfferReq{ToGroup: gid, Name: "report.pdf", Size: int64(len(data)), Sha256: sum}
	outsider.must(protocol.CodeForbidden, protocol.OpFileOffer, req, nil)
	outsider.must(protocol.CodeNotFound, protocol.OpFileOffer, &protocol.FileOfferReq{ToGroup: gid + 1000, Name: "x", Size: 1, Sha256: sum}, nil)

	var offer protocol.FileOfferResp
	member.must(protocol.CodeOK, protocol.OpFileOffer, req, &offer)
	uploadOffer(t, &offer, data)
	got := collect(t, owner, protocol.OpMsgPush, protocol.OpFileOffered)
	var fo protocol.FileOfferedPush
	decodePush(t, got[protocol.OpFileOffered], &fo)
	if fo.FileID != offer.FileID || fo.From.UserID != member.userID {
		t.Fatalf("file.offered %+v", fo)
	}
	var mp protocol.MsgPush
	decodePush(t, got[protocol.OpMsgPush], &mp)
	if mp.Message.Conv != protocol.GroupConv(gid) || mp.Message.Type != protocol.MsgFile {
		t.Fatalf("group file message %+v", mp.Message)
	}
	member.waitFor(protocol.OpFileReady, nil)
	if got := fetchAndDownload(t, owner, offer.FileID); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	outsider.must(protocol.CodeForbidden, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)
	// A download token does not outlive the membership it was issued for.
	var fr protocol.FileFetchResp
	member.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fr)
	if fr.Name != "report.pdf" {
		t.Fatalf("file.fetch names the file %q, want the offered name", fr.Name)
	}
	member.must(protocol.CodeOK, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: gid}, nil)
	if _, err := files.Download(context.Background(), fr.FileAddr, fr.DownloadToken, 0, io.Discard); protocol.CodeOf(err) != protocol.CodeForbidden {
		t.Fatalf("download after leaving the group: %v, want FORBIDDEN", err)
	}
	member.must(protocol.CodeForbidden, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)
	// An upload token is refused on download.
	if _, err := files.Download(context.Background(), offer.FileAddr, offer.UploadToken, 0, io.Discard); protocol.CodeOf(err) != protocol.CodeBadCredentials {
		t.Fatalf("download with the upload token: %v, want BAD_CREDENTIALS", err)
	}
}

func TestFileAddrAnnouncement(t *testing.T) {
	st, err := store.Open(context.Background(), sqliteBackend.cfg(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v6 := &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}
	v4 := &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}
	cases := []struct {
		fileAddr string
		local    net.Addr
		want     string
	}{
		{"127.0.0.1:0", v4, "127.0.0.1:"}, // a configured host is announced as is
		{"0.0.0.0:0", v4, "10.1.2.3:"},    // unspecified: the chat connection's IP
		{"[::]:0", v6, "[fe80::1%eth0]:"}, // with its zone
		{":0", &net.UnixAddr{}, ":"},      // nothing better known
		{"localhost:0", v6, "localhost:"}, // names too
	}
	for _, tc := range cases {
		srv, err := New(Config{ChatAddr: "127.0.0.1:0", FileAddr: tc.fileAddr, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := srv.EnableFiles(files.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", tc.fileAddr, err)
		}
		_, port, _ := net.SplitHostPort(fs.Addr().String())
		if got := fs.addrFor(tc.local); got != tc.want+port {
			t.Errorf("FileAddr %q, chat local %v: announced %q, want %q", tc.fileAddr, tc.local, got, tc.want+port)
		}
		shutdownFiles(t, fs)
	}
}

func TestEnableFilesRejectsBadConfig(t *testing.T) {
	st, err := store.Open(context.Background(), sqliteBackend.cfg(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := New(Config{ChatAddr: "127.0.0.1:0", FileAddr: "no-port", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.EnableFiles(files.Config{DataDir: t.TempDir()}); err == nil {
		t.Fatal("file address without a port accepted")
	}
	srv, _ = New(Config{ChatAddr: "127.0.0.1:0", FileAddr: "127.0.0.1:0", Store: st})
	if _, err := srv.EnableFiles(files.Config{}); err == nil {
		t.Fatal("missing data dir accepted")
	}
}

// patternFile is a large file made of one random block repeated, so the
// benchmark needs no gigabytes of memory for its sources.
type patternFile struct {
	block []byte
	size  int64
	gate  *gate // when set, reads wait while it is closed
}

func (p *patternFile) ReadAt(b []byte, off int64) (int, error) {
	if p.gate != nil {
		p.gate.wait()
	}
	if off >= p.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && off < p.size {
		i := off % int64(len(p.block))
		k := copy(b[n:min(len(b), n+int(p.size-off))], p.block[i:])
		n += k
		off += int64(k)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// bytesIn reads the count of file bytes the server has received (from
// quiet's goroutine, which cannot fail the test: an error reads as 0).
func bytesIn() float64 {
	v, _ := sampleValue("chatd_file_bytes_received_total")
	return v
}

// quiet fires once c has not moved for 20 ms (the kernel's socket buffers
// drained after a pause), or when done has something.
func quiet(c func() float64, done <-chan error) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		last := c()
		for still := 0; still < 4; {
			time.Sleep(5 * time.Millisecond)
			if n := c(); n != last {
				last, still = n, 0
			} else {
				still++
			}
			if len(done) > 0 {
				break
			}
		}
		out <- time.Now()
	}()
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// childEnv, when set, makes BenchmarkPingDuringFileTransfers run as one
// of its helper processes: "uploader" (the uploads of childJobEnv) or
// "pinger" (chat pings to childJobEnv's address). Clients in their own
// processes load the machine as remote clients would load the network
// path, and their goroutines do not share the server's scheduler.
const (
	childEnv    = "CHATD_BENCH_FILES_CHILD"
	childJobEnv = "CHATD_BENCH_FILES_JOB"
)

// uploadJob is what the uploader process uploads.
type uploadJob struct {
	Seed   uint64
	Size   int64
	Offers []protocol.FileOfferResp
}

// gate pauses the uploader's sources.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
}

func newGate(paused bool) *gate {
	g := &gate{paused: paused}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(paused bool) {
	g.mu.Lock()
	g.paused = paused
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.paused {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// runUploads uploads every offer of job at once, from a pattern source,
// starting paused; the lines "pause" and "resume" on stdin stop and
// restart every upload's sending.
func runUploads(job uploadJob) error {
	block, _ := randomFile(job.Seed, 1<<20)
	g := newGate(true)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			g.set(sc.Text() == "pause")
		}
		g.set(false) // the parent is gone: finish
	}()
	src := &patternFile{block: block, size: job.Size, gate: g}
	errs := make(chan error, len(job.Offers))
	for _, o := range job.Offers {
		go func() {
			_, err := files.Upload(context.Background(), o.FileAddr, o.UploadToken, 0, src, job.Size)
			errs <- err
		}()
	}
	var first error
	for range job.Offers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// pingInterval paces the pinger: chat-like traffic, not a flood that would
// itself occupy a processor.
const pingInterval = time.Millisecond

// runPinger pings the chat port at addr every pingInterval, one at a time,
// filing each round trip under the phase named by the last line read from
// stdin; at the end of stdin it writes {phase: [round trips in ns]} as JSON
// to stdout.
func runPinger(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var phase atomic.Pointer[string]
	first := ""
	phase.Store(&first)
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			name := sc.Text()
			phase.Store(&name)
		}
		close(done)
	}()
	rtts := map[string][]int64{}
	ping := protocol.AppendFrame(nil, protocol.OpPing, 1, []byte("{}"))
	reply := make([]byte, 4096)
	for {
		select {
		case <-done:
			return json.NewEncoder(os.Stdout).Encode(rtts)
		default:
		}
		start := time.Now()
		if _, err := c.Write(ping); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, reply[:4]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(reply))
		if n > len(reply) {
			return fmt.Errorf("ping reply of %d bytes", n)
		}
		if _, err := io.ReadFull(c, reply[:n]); err != nil {
			return err
		}
		name := *phase.Load()
		if name != "" {
			rtts[name] = append(rtts[name], int64(time.Since(start)))
		}
		time.Sleep(pingInterval)
	}
}

// runChild runs this process as a benchmark helper and exits.
func runChild(role string) {
	var err error
	switch role {
	case "uploader":
		var job uploadJob
		if err = json.Unmarshal([]byte(os.Getenv(childJobEnv)), &job); err == nil {
			err = runUploads(job)
		}
	case "pinger":
		err = runPinger(os.Getenv(childJobEnv))
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child returns the command running this test binary as a helper.
func child(role, job string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkPingDuringFileTransfers$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), childEnv+"="+role, childJobEnv+"="+job)
	cmd.Stderr = os.Stderr
	return cmd
}

// BenchmarkPingDuringFileTransfers measures the chat port's ping round
// trip (p50, p99; one ping per millisecond from a separate process) while
// four 500 MiB uploads run on the file port (from another process), next to
// the same with the file port idle, and reports the p99 ratio (goal: at
// most 1.5), with the default adaptive pacing and without it. The machine
// is shared and noisy, so the two conditions are interleaved: the uploads
// alternate between sending for a window and pausing for a window until
// they are done, and each ping is filed under the window it fell in. A
// sending window's pings count after a settle time; a pause window's only
// once the server has stopped receiving file bytes (the socket buffers
// drain after the pause). Run it once:
//
//	go test -run '^$' -bench PingDuringFileTransfers -benchtime 1x ./service/
func BenchmarkPingDuringFileTransfers(b *testing.B) {
	if role := os.Getenv(childEnv); role != "" {
		runChild(role)
	}
	for _, bc := range []struct {
		name string
		cfg  files.Config
	}{
		{"paced", files.Config{}},
		{"unpaced", files.Config{DisablePacing: true}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPingDuringFileTransfers(b, bc.cfg) })
	}
}

func benchPingDuringFileTransfers(b *testing.B, fc files.Config) {
	const (
		transfers  = 4
		fileSize   = 500 << 20
		window     = 500 * time.Millisecond
		settleTime = 50 * time.Millisecond
		seed       = 9
	)
	st, srv, _, fs := startFileServer(b, store.Config{Driver: "sqlite", DataDir: b.TempDir()}, fc)
	defer st.Close()
	defer srv.Shutdown(context.Background())
	defer shutdownFiles(b, fs)
	addr := srv.ChatAddr().String()
	users := make([]*tclient, 2)
	for i := range users {
		name := uniqueName("bench")
		c := dialAddr(b, addr)
		c.must(protocol.CodeOK, protocol.OpRegister, &protocol.RegisterReq{Username: name, Password: testPassword}, nil)
		var lr protocol.LoginResp
		c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, &lr)
		c.userID = lr.UserID
		users[i] = c
	}
	befriend(b, users[0], users[1])

	block, _ := randomFile(seed, 1<<20)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(&patternFile{block: block, size: fileSize}, 0, fileSize)); err != nil {
		b.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))

	for b.Loop() {
		job := uploadJob{Seed: seed, Size: fileSize, Offers: make([]protocol.FileOfferResp, transfers)}
		for i := range job.Offers {
			users[0].must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: users[1].userID,
				Name: fmt.Sprintf("big%d.bin", i), Size: fileSize, Sha256: sum}, &job.Offers[i])
		}
		spec, _ := json.Marshal(job)

		pinger := child("pinger", addr)
		phases, err := pinger.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		pinger.Stdout = &out
		if err := pinger.Start(); err != nil {
			b.Fatal(err)
		}
		uploader := child("uploader", string(spec))
		control, err := uploader.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := uploader.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- uploader.Wait() }()
		var sending time.Duration
		var upErr error
		finished := false
		for i := 0; !finished; i++ {
			load := i%2 == 1
			fmt.Fprintln(phases, "settle")
			if load {
				fmt.Fprintln(control, "resume")
			} else {
				fmt.Fprintln(control, "pause")
			}
			start := time.Now()
			phase := "idle"
			if load {
				phase = "load"
			}
			settled := time.After(settleTime)
			if !load {
				settled = quiet(bytesIn, done)
			}
			select {
			case upErr = <-done:
				finished = true
			case <-settled:
				fmt.Fprintln(phases, phase)
				select {
				case upErr = <-done:
					finished = true
				case <-time.After(window):
				}
			}
			if load {
				sending += time.Since(start)
			}
		}
		control.Close()
		if upErr != nil {
			b.Fatalf("uploader: %v", upErr)
		}
		phases.Close()
		if err := pinger.Wait(); err != nil {
			b.Fatalf("pinger: %v", err)
		}
		var raw map[string][]time.Duration
		if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
			b.Fatalf("pinger output: %v", err)
		}
		for _, o := range job.Offers {
			if !fs.Files().Complete(o.FileID) {
				b.Fatalf("file %d not complete", o.FileID)
			}
		}
		idle, loaded := raw["idle"], raw["load"]
		p99Idle, p99Load := percentile(idle, 0.99), percentile(loaded, 0.99)
		b.ReportMetric(float64(percentile(idle, 0.50).Microseconds()), "p50-idle-µs")
		b.ReportMetric(float64(p99Idle.Microseconds()), "p99-idle-µs")
		b.ReportMetric(float64(percentile(loaded, 0.50).Microseconds()), "p50-load-µs")
		b.ReportMetric(float64(p99Load.Microseconds()), "p99-load-µs")
		b.ReportMetric(float64(p99Load)/float64(p99Idle), "p99-ratio")
		b.ReportMetric(float64(len(idle)), "pings-idle")
		b.ReportMetric(float64(len(loaded)), "pings-load")
		b.ReportMetric(float64(transfers*fileSize)/sending.Seconds()/1e6, "upload-MB/s-while-sending")
	}
}

// TestFileTransferOverHTTP moves a file through the web port's HTTP
// endpoint (section 17): replies name it in file_url, the tus upload
// announces the file like a file-port upload, and the download serves it.
func TestFileTransferOverHTTP(t *testing.T) {
	e, fs := newFileEnv(t, sqliteBackend)
	web := httptest.NewServer(http.StripPrefix("/files", fs.Files().HTTPHandler()))
	defer web.Close()
	name := uniqueName("hw")
	e.register(name)
	if _, lr := e.login(name, "before"); slices.Contains(lr.Server.Features, protocol.FeatureHTTPFiles) {
		t.Fatalf("features %v name http_files before a web port moves files", lr.Server.Features)
	}
	fs.AnnounceWeb(web.Listener.Addr(), false)
	if _, lr := e.login(name, "after"); !slices.Contains(lr.Server.Features, protocol.FeatureHTTPFiles) {
		t.Fatalf("features %v lack http_files with a web port", lr.Server.Features)
	}
	a, b := e.user("ha"), e.user("hb")
	befriend(t, a, b)
	data, sum := randomFile(7, 70<<10)

	var offer struct {
		protocol.FileOfferResp
		FileURL string `json:"file_url"`
	}
	a.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: b.userID, Name: "a.bin", Size: int64(len(data)), Sha256: sum}, &offer)
	if offer.FileURL != web.URL+"/files" {
		t.Fatalf("file_url %q, want %s/files", offer.FileURL, web.URL)
	}
	url := fmt.Sprintf("%s/%d", offer.FileURL, offer.FileID)
	req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(data))
	req.Header.Set("Tus-Resumable", files.TusVersion)
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Authorization", "Bearer "+offer.UploadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	got := collect(t, b, protocol.OpMsgPush, protocol.OpFileOffered)
	var mp protocol.MsgPush
	decodePush(t, got[protocol.OpMsgPush], &mp)
	if mp.Message.Type != protocol.MsgFile || mp.Message.Body != strconv.FormatInt(offer.FileID, 10) {
		t.Fatalf("file message %+v", mp.Message)
	}

	var fetch struct {
		protocol.FileFetchResp
		FileURL string `json:"file_url"`
	}
	b.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fetch)
	if fetch.FileURL != offer.FileURL {
		t.Fatalf("fetch file_url %q", fetch.FileURL)
	}
	resp, err = http.Get(url + "?token=" + fetch.DownloadToken)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(body))
	}
}
