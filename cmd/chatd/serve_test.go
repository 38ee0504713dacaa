package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/admin/admintest"
	"github.com/chatd/chatd/service/web"
	"github.com/chatd/chatd/store/mysqltest"
)

// chatd is one in-process run of chatd started by startChatd.
type chatd struct {
	at     listening
	stdout *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

// lockedBuffer is an io.Writer whose content can be read while run writes.
type lockedBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// startChatd runs chatd with the given environment on random loopback
// ports and waits until it serves.
func startChatd(t *testing.T, env map[string]string) *chatd {
	t.Helper()
	full := map[string]string{
		"CHATD_CHAT_ADDR":      "127.0.0.1:0",
		"CHATD_FILE_ADDR":      "127.0.0.1:0",
		"CHATD_DISCOVERY_ADDR": "127.0.0.1:0",
		"CHATD_ADMIN_ADDR":     "127.0.0.1:0",
		"CHATD_WEB_ADDR":       "127.0.0.1:0",
		"CHATD_LOG_LEVEL":      "warn",
		"CHATD_LOG_FORMAT":     "json",
	}
	for k, v := range env {
		full[k] = v
	}
	re, _, _ := testEnv(full)
	out := &lockedBuffer{}
	re.Stdout = out
	ready := make(chan listening, 1)
	re.OnReady = func(at listening) { ready <- at }
	ctx, cancel := context.WithCancel(context.Background())
	c := &chatd{stdout: out, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- run(ctx, nil, re) }()
	t.Cleanup(func() { c.stop(t) })
	select {
	case c.at = <-ready:
	case err := <-c.done:
		t.Fatalf("chatd exited before serving: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("chatd did not start")
	}
	return c
}

// stop cancels chatd's context (what SIGTERM does) and waits for run to
// return; it fails the test if run returns an error. Safe to call twice.
func (c *chatd) stop(t *testing.T) {
	t.Helper()
	if c.done == nil {
		return
	}
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("chatd exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("chatd did not shut down")
	}
	c.done = nil
}

// printed returns what chatd wrote to stdout so far.
func (c *chatd) printed() string { return c.stdout.String() }

// conn is a raw chat-protocol connection.
type conn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	req uint32
}

func dialChat(t *testing.T, addr net.Addr) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
	if err != nil {
		t.Fatalf("dial chat: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

// call sends a request and returns the reply body, skipping pushes.
func (c *conn) call(op protocol.Op, body any) []byte {
	c.t.Helper()
	c.req++
	frame, err := protocol.AppendJSONFrame(nil, op, c.req, body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(frame); err != nil {
		c.t.Fatalf("write %v: %v", op, err)
	}
	for {
		var hdr [protocol.HeaderSize]byte
		if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
			c.t.Fatalf("read reply to %v: %v", op, err)
		}
		size := protocol.FrameSize(hdr[:])
		buf := make([]byte, size)
		copy(buf, hdr[:])
		if _, err := io.ReadFull(c.r, buf[protocol.HeaderSize:]); err != nil {
			c.t.Fatalf("read reply body to %v: %v", op, err)
		}
		h, b, _, err := protocol.Decode(buf, 1<<20)
		if err != nil {
			c.t.Fatalf("decode reply to %v: %v", op, err)
		}
		if h.ReqID == 0 {
			continue // a push
		}
		if h.Op != op || h.ReqID != c.req {
			c.t.Fatalf("reply op %v req %d, want %v req %d", h.Op, h.ReqID, op, c.req)
		}
		return b
	}
}

func code(t *testing.T, body []byte) string {
	t.Helper()
	var s struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return s.Code
}

func discover(t *testing.T, addr net.Addr) protocol.DiscoverReply {
	t.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(protocol.DiscoverRequest)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no discovery reply: %v", err)
	}
	var rep protocol.DiscoverReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil {
		t.Fatalf("discovery reply %q: %v", buf[:n], err)
	}
	return rep
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// checkMetrics checks what a Prometheus scraping a serving chatd needs:
// le-bucket histograms, the build info, the event-loop counters (one
// connection open), the service's per-op counters (after one ping) and the
// process collector. admintest.Scrape has checked HELP and TYPE.
func checkMetrics(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	for _, name := range []string{"chatd_msg_append_seconds", "chatd_store_commit_seconds", "chatd_store_batch_size"} {
		mf := mfs[name]
		if mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 {
			t.Errorf("%s is %v, want one histogram", name, mf)
			continue
		}
		b := mf.GetMetric()[0].GetHistogram().GetBucket()
		if len(b) < 2 || !math.IsInf(b[len(b)-1].GetUpperBound(), 1) {
			t.Errorf("%s buckets %v, want le bounds ending in +Inf", name, b)
		}
	}
	bi := readBuildInfo()
	if m := mfs["chatd_build_info"].GetMetric(); len(m) != 1 || admintest.Label(m[0], "version") != bi.Version ||
		admintest.Label(m[0], "commit") != bi.Commit || admintest.Label(m[0], "go") != runtime.Version() {
		t.Errorf("chatd_build_info = %v, want version %q commit %q go %q", m, bi.Version, bi.Commit, runtime.Version())
	}
	if m := mfs["chatd_reactor_connections"].GetMetric(); len(m) != 1 || m[0].GetGauge().GetValue() < 1 {
		t.Errorf("chatd_reactor_connections = %v, want at least the test's connection", m)
	}
	pings := 0.0
	for _, m := range mfs["chatd_frames_in_total"].GetMetric() {
		if admintest.Label(m, "op") == "ping" {
			pings = m.GetCounter().GetValue()
		}
	}
	if pings < 1 {
		t.Errorf(`chatd_frames_in_total{op="ping"} = %v, want at least 1`, pings)
	}
	if mfs["process_resident_memory_bytes"] == nil || mfs["go_goroutines"] == nil {
		t.Error("process or Go runtime collector missing")
	}
}

func TestServeEveryListenerThenShutDownCleanly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": dir, "CHATD_NAME": "test-office"})

	c := dialChat(t, d.at.Chat)
	if got := code(t, c.call(protocol.OpPing, &protocol.PingReq{})); got != "OK" {
		t.Fatalf("ping: %s", got)
	}

	chatPort := d.at.Chat.(*net.TCPAddr).Port
	rep := discover(t, d.at.Discovery)
	want := protocol.DiscoverReply{
		Name:     "test-office",
		Version:  readBuildInfo().Version,
		ChatAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(chatPort)),
		FileAddr: d.at.File.String(),
	}
	if rep != want {
		t.Fatalf("discovery = %+v, want %+v", rep, want)
	}

	// The file port answers its own handshake (a forged token is refused).
	fc, err := net.DialTimeout("tcp", d.at.File.String(), 10*time.Second)
	if err != nil {
		t.Fatalf("dial file port: %v", err)
	}
	fr := &conn{t: t, c: fc, r: bufio.NewReader(fc)}
	t.Cleanup(func() { fc.Close() })
	if got := code(t, fr.call(protocol.OpFileUpload, &protocol.FileUploadReq{UploadToken: "forged", Offset: 0})); got == "OK" || got == "" {
		t.Fatalf("file upload with a forged token: %q", got)
	}

	admin := "http://" + d.at.Admin.String()
	if code, _ := httpGet(t, admin+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d while serving", code)
	}
	checkMetrics(t, admintest.Scrape(t, admin+"/metrics"))

	printed := d.printed()
	for _, s := range []string{"chat       " + d.at.Chat.String(), "files      " + d.at.File.String(), "discovery  " + d.at.Discovery.String(), "admin      http://" + d.at.Admin.String(), "store      sqlite in " + dir} {
		if !strings.Contains(printed, s) {
			t.Errorf("stdout %q lacks %q", printed, s)
		}
	}

	d.stop(t)
	// Everything is closed: the chat connection ends and the ports are free.
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.r.ReadByte(); err == nil {
		t.Error("chat connection still open after shutdown")
	}
	for _, a := range []net.Addr{d.at.Chat, d.at.File, d.at.Admin} {
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			t.Errorf("%s not released: %v", a, err)
			continue
		}
		ln.Close()
	}
	pc, err := net.ListenPacket("udp", d.at.Discovery.String())
	if err != nil {
		t.Errorf("discovery %s not released: %v", d.at.Discovery, err)
	} else {
		pc.Close()
	}
}

// storeBackends are the stores the restart test runs on, each giving a
// subtest the environment that selects a fresh store: the embedded one, and
// MySQL/MariaDB (see mysqltest.DSN: skipped only when no server answers).
var storeBackends = map[string]func(t *testing.T) map[string]string{
	"sqlite": func(t *testing.T) map[string]string { return map[string]string{"CHATD_DATA_DIR": t.TempDir()} },
	"mysql": func(t *testing.T) map[string]string {
		return map[string]string{"CHATD_MYSQL_DSN": mysqltest.DSN(t, "chatd")}
	},
}

func TestAccountSurvivesRestart(t *testing.T) {
	for name, backend := range storeBackends {
		t.Run(name, func(t *testing.T) {
			env := backend(t)
			env["CHATD_DISCOVERY_ADDR"] = ""
			env["CHATD_ADMIN_ADDR"] = ""
			const user = "restart_user"
			d := startChatd(t, env)
			if d.at.Discovery != nil || d.at.Admin != nil {
				t.Fatalf("disabled listeners started: %+v", d.at)
			}
			c := dialChat(t, d.at.Chat)
			if got := code(t, c.call(protocol.OpRegister, &protocol.RegisterReq{Username: user, Password: "correct horse"})); got != "OK" {
				t.Fatalf("register: %s", got)
			}
			d.stop(t)

			d = startChatd(t, env)
			c = dialChat(t, d.at.Chat)
			if got := code(t, c.call(protocol.OpLogin, &protocol.LoginReq{Username: user, Password: "correct horse", Device: "test"})); got != "OK" {
				t.Fatalf("login after restart: %s", got)
			}
		})
	}
}

func TestFailedStartReleasesWhatItOpened(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// The chat listener starts, then the admin listener cannot bind.
	chat, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	chatAddr := chat.Addr().String()
	chat.Close()
	re, _, _ := testEnv(map[string]string{
		"CHATD_DATA_DIR":       t.TempDir(),
		"CHATD_CHAT_ADDR":      chatAddr,
		"CHATD_FILE_ADDR":      "127.0.0.1:0",
		"CHATD_DISCOVERY_ADDR": "",
		"CHATD_ADMIN_ADDR":     busy.Addr().String(),
		"CHATD_WEB_ADDR":       "",
		"CHATD_LOG_LEVEL":      "disabled",
	})
	re.OnReady = func(listening) { t.Error("reported ready") }
	err = run(context.Background(), nil, re)
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("run with a busy admin port: %v", err)
	}
	ln, err := net.Listen("tcp", chatAddr)
	if err != nil {
		t.Fatalf("chat port %s not released after the failed start: %v", chatAddr, err)
	}
	ln.Close()

	// A busy file port fails before the chat port is bound.
	re, _, _ = testEnv(map[string]string{
		"CHATD_DATA_DIR":  t.TempDir(),
		"CHATD_CHAT_ADDR": chatAddr,
		"CHATD_FILE_ADDR": busy.Addr().String(),
		"CHATD_LOG_LEVEL": "disabled",
	})
	if err := run(context.Background(), nil, re); err == nil || !strings.Contains(err.Error(), "file port") {
		t.Fatalf("run with a busy file port: %v", err)
	}
	ln, err = net.Listen("tcp", chatAddr)
	if err != nil {
		t.Fatalf("chat port %s bound after a failed file port: %v", chatAddr, err)
	}
	ln.Close()

	// A busy chat port fails too.
	re, _, _ = testEnv(map[string]string{
		"CHATD_DATA_DIR":  t.TempDir(),
		"CHATD_CHAT_ADDR": busy.Addr().String(),
		"CHATD_FILE_ADDR": "127.0.0.1:0",
		"CHATD_LOG_LEVEL": "disabled",
	})
	if err := run(context.Background(), nil, re); err == nil || !strings.Contains(err.Error(), "chat listener") {
		t.Fatalf("run with a busy chat port: %v", err)
	}
}

func TestServiceAndFilesConfigCarryEverySetting(t *testing.T) {
	cfg, err := world{}.load(
		"--file-workers", "5", "--file-queue", "0", "--file-stale-age", "2h",
		"--file-rate-limit", "10MiB", "--file-pacing=false", "--file-secret", "0123456789abcdef0123",
		"--chat-addr", "127.0.0.1:1", "--file-addr", "127.0.0.1:2", "--name", "n",
		"--max-frame", "2048", "--max-file-size", "4096",
		"--login-failures-per-user", "3", "--login-failures-per-ip", "4",
		"--msg-rate", "5.5", "--msg-burst", "6", "--idle-timeout", "7s",
		"--outbound-queue", "1MiB", "--loops", "2", "--workers", "9",
	)
	if err != nil {
		t.Fatal(err)
	}
	sc := serviceConfig(cfg, nil, zerolog.Nop(), "v9")
	if sc.ChatAddr != "127.0.0.1:1" || sc.FileAddr != "127.0.0.1:2" || sc.ServerName != "n" || sc.Version != "v9" {
		t.Errorf("addresses and names: %+v", sc)
	}
	if sc.Limits.MaxFrameBody != 2048 || sc.Limits.MaxFileSize != 4096 {
		t.Errorf("limits: frame %d file %d", sc.Limits.MaxFrameBody, sc.Limits.MaxFileSize)
	}
	if sc.Limits.MaxText != protocol.DefaultLimits().MaxText {
		t.Errorf("other limits must keep the contract's defaults: %+v", sc.Limits)
	}
	if sc.LoginFailuresPerUser != 3 || sc.LoginFailuresPerIP != 4 || sc.MsgRate != 5.5 || sc.MsgBurst != 6 {
		t.Errorf("rate limits: %+v", sc)
	}
	if sc.IdleTimeout != 7*time.Second || sc.MaxOutbound != 1<<20 || sc.Loops != 2 || sc.Workers != 9 {
		t.Errorf("idle %v outbound %d loops %d workers %d", sc.IdleTimeout, sc.MaxOutbound, sc.Loops, sc.Workers)
	}
	fc := filesConfig(cfg)
	if fc.DataDir != cfg.DataDir || fc.Workers != 5 || fc.Queue >= 0 || fc.StaleAge != 2*time.Hour || fc.RateLimit != 10<<20 || !fc.DisablePacing || string(fc.Secret) != "0123456789abcdef0123" {
		t.Errorf("files config %+v (queue 0 must mean none, a negative Queue)", fc)
	}
	cfg, _ = world{}.load()
	if fc := filesConfig(cfg); fc.Secret != nil || fc.Queue != 64 || fc.Workers != 32 || fc.DisablePacing {
		t.Errorf("default files config %+v: no secret means the data-dir key, pacing on", fc)
	}
}

func TestSignalDuringStartIsACleanStop(t *testing.T) {
	re, stdout, _ := testEnv(map[string]string{"CHATD_LOG_LEVEL": "disabled"})
	re.OnReady = func(listening) { t.Error("reported ready after the stop request") }
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrived while starting
	args := []string{"serve", "--data-dir", t.TempDir(), "--chat-addr", "127.0.0.1:0", "--file-addr", "127.0.0.1:0", "--discovery-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0"}
	if err := run(ctx, args, re); err != nil {
		t.Fatalf("interrupted start: %v, want a clean stop", err)
	}
	if stdout.Len() != 0 {
		t.Fatalf("printed listeners for an interrupted start: %q", stdout.String())
	}
}

func TestWebPortServesClientAndConfig(t *testing.T) {
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": t.TempDir()})
	if d.at.Web == nil || !strings.Contains(d.stdout.String(), "web        http://"+d.at.Web.String()) {
		t.Fatalf("web port not started or not printed: %+v\n%s", d.at, d.stdout.String())
	}
	base := "http://" + d.at.Web.String()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /: %d, headers %v", resp.StatusCode, resp.Header)
	}
	checkClientConfig(t, http.DefaultClient, base, "ws://", d.at.Chat)
}

// checkClientConfig requires base's /config.json to point the page at the
// chat port's /ws with wsScheme and at base's /files.
func checkClientConfig(t *testing.T, hc *http.Client, base, wsScheme string, chat net.Addr) {
	t.Helper()
	resp, err := hc.Get(base + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cc web.ClientConfig
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil {
		t.Fatal(err)
	}
	_, chatPort, _ := net.SplitHostPort(chat.String())
	if cc.WSURL != wsScheme+"127.0.0.1:"+chatPort+"/ws" || cc.FileURL != base+"/files" {
		t.Fatalf("config.json %+v", cc)
	}
}
