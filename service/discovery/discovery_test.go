package discovery

import (
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// start runs a responder on a random loopback port and closes it at the end
// of the test.
func start(t testing.TB, cfg Config) *Responder {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	r, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// client opens a UDP socket on the given loopback address (random port).
func client(t testing.TB, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("client socket on %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c *net.UDPConn, to net.Addr, datagram string) {
	t.Helper()
	if _, err := c.WriteTo([]byte(datagram), to); err != nil {
		t.Fatalf("send %q: %v", datagram, err)
	}
}

// receive reads one reply; the generous deadline only bounds a hung test.
func receive(t testing.TB, c *net.UDPConn) protocol.DiscoverReply {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	var rep protocol.DiscoverReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil {
		t.Fatalf("reply %q is not JSON: %v", buf[:n], err)
	}
	var fields map[string]any
	if err := json.Unmarshal(buf[:n], &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"name", "version", "chat_addr", "file_addr"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("reply %s lacks %q", buf[:n], f)
		}
	}
	return rep
}

// waitHandled waits until the responder has finished with n datagrams
// (replied, ignored, limited or failed), so that the counters are final.
func waitHandled(t testing.TB, r *Responder, n uint64) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := r.Stats()
		if s.Replied+s.Ignored+s.Limited+s.Failed >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder finished with %+v, want %d datagrams", s, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReplyAnnouncesRequesterRoute(t *testing.T) {
	r := start(t, Config{
		Name:     "office",
		Version:  "1.2.3",
		ChatAddr: ":9000",
		FileAddr: "files.example.com:9001",
	})
	c := client(t, "127.0.0.1")
	send(t, c, r.Addr(), protocol.DiscoverRequest)
	got := receive(t, c)
	want := protocol.DiscoverReply{Name: "office", Version: "1.2.3", ChatAddr: "127.0.0.1:9000", FileAddr: "files.example.com:9001"}
	if got != want {
		t.Fatalf("reply = %+v, want %+v", got, want)
	}
	if s := waitHandled(t, r, 1); s.Replied != 1 || s.Ignored != 0 || s.Limited != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestIgnoresEverythingButTheExactRequest(t *testing.T) {
	r := start(t, Config{Name: "n", ChatAddr: "127.0.0.1:1", FileAddr: "127.0.0.1:2"})
	c := client(t, "127.0.0.1")
	junk := []string{
		"",
		"CHATD DISCOVER 1\n",
		"chatd discover 1",
		"CHATD DISCOVER 2",
		"CHATD DISCOVER 1 ",
		"CHATD DISCOVER 10",
		" CHATD DISCOVER 1",
		"CHATD DISCOVER 1" + string(make([]byte, 200)), // longer than the read buffer
		"CHATD DISCOVER",
	}
	for _, d := range junk {
		send(t, c, r.Addr(), d)
	}
	send(t, c, r.Addr(), protocol.DiscoverRequest)
	// The responder handles datagrams in order, so the first reply must be
	// the answer to the valid request and all junk must be counted by now.
	got := receive(t, c)
	if got.Name != "n" || got.ChatAddr != "127.0.0.1:1" {
		t.Fatalf("reply = %+v", got)
	}
	s := waitHandled(t, r, uint64(len(junk)+1))
	if s.Ignored != uint64(len(junk)) || s.Replied != 1 {
		t.Fatalf("stats = %+v, want %d ignored and 1 reply", s, len(junk))
	}
}

func TestPerSourceRateLimit(t *testing.T) {
	r := start(t, Config{
		ChatAddr:           ":9000",
		PerSourcePerSecond: 1e-9, // no refill during the test
		PerSourceBurst:     2,
	})
	a := client(t, "127.0.0.1")
	for i := 0; i < 5; i++ {
		send(t, a, r.Addr(), protocol.DiscoverRequest)
	}
	s := waitHandled(t, r, 5)
	if s.Replied != 2 || s.Limited != 3 {
		t.Fatalf("stats = %+v, want 2 replies and 3 limited", s)
	}
	receive(t, a)
	receive(t, a)
	// Another source has its own budget.
	b := client(t, "127.0.0.2")
	send(t, b, r.Addr(), protocol.DiscoverRequest)
	if got := receive(t, b); got.ChatAddr != "127.0.0.1:9000" {
		t.Fatalf("reply to second source = %+v", got)
	}
}

func TestGlobalRateLimit(t *testing.T) {
	r := start(t, Config{
		ChatAddr:         ":9000",
		RepliesPerSecond: 1e-9,
		ReplyBurst:       2,
	})
	sources := []*net.UDPConn{client(t, "127.0.0.1"), client(t, "127.0.0.2"), client(t, "127.0.0.3")}
	for _, c := range sources {
		send(t, c, r.Addr(), protocol.DiscoverRequest)
	}
	s := waitHandled(t, r, 3)
	if s.Replied != 2 || s.Limited != 1 {
		t.Fatalf("stats = %+v, want 2 replies and 1 limited across sources", s)
	}
}

func TestListenRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "127.0.0.1:0", ChatAddr: "no-port"},
		{Addr: "127.0.0.1:0", ChatAddr: ":9000", FileAddr: "host:http"},
		{Addr: "127.0.0.1:99999", ChatAddr: ":9000"},
		{Addr: "not an address", ChatAddr: ":9000"},
	} {
		if r, err := Listen(cfg); err == nil {
			r.Close()
			t.Errorf("Listen(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestCloseIsIdempotentAndStopsServing(t *testing.T) {
	r, err := Listen(Config{Addr: "127.0.0.1:0", ChatAddr: ":9000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-r.done:
	default:
		t.Fatal("serve goroutine still running after Close")
	}
}

func TestAnnounce(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.7")
	lo6 := netip.IPv6Loopback()
	mapped := netip.MustParseAddr("::ffff:127.0.0.9")
	for _, tc := range []struct {
		addr string
		from netip.Addr
		want string
	}{
		{":9000", lo4, "127.0.0.1:9000"},
		{"0.0.0.0:9000", lo4, "127.0.0.1:9000"},
		{"[::]:9000", lo4, "127.0.0.1:9000"},
		{"[::]:9001", lo6, "[::1]:9001"},
		{":9001", mapped, "127.0.0.1:9001"},
		{"10.1.2.3:9000", lo4, "10.1.2.3:9000"},
		{"chat.example.com:9000", lo4, "chat.example.com:9000"},
		{"[2001:db8::1]:9000", lo6, "[2001:db8::1]:9000"},
		{"", lo4, ""},
		{"garbage", lo4, "garbage"},
		{":9000", netip.Addr{}, ":9000"},
	} {
		if got := Announce(tc.addr, tc.from); got != tc.want {
			t.Errorf("Announce(%q, %v) = %q, want %q", tc.addr, tc.from, got, tc.want)
		}
	}
}

func TestAnnounceUsesRouteToRemoteRequester(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.10") // TEST-NET-1: routed, never answered
	got := Announce(":9000", remote)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, 9)))
	if err != nil {
		// No route on this machine: the address is announced as configured.
		if got != ":9000" {
			t.Fatalf("Announce without a route = %q, want %q", got, ":9000")
		}
		return
	}
	defer c.Close()
	want := net.JoinHostPort(c.LocalAddr().(*net.UDPAddr).IP.String(), "9000")
	if got != want {
		t.Fatalf("Announce(:9000, %v) = %q, want %q", remote, got, want)
	}
}

// FuzzHandle checks that exactly the discovery request, and nothing else,
// is answered, and that no datagram crashes the responder.
func FuzzHandle(f *testing.F) {
	f.Add([]byte(protocol.DiscoverRequest))
	f.Add([]byte("CHATD DISCOVER 1\x00"))
	f.Add([]byte(""))
	f.Add([]byte("\xff\xfe"))
	r := start(f, Config{ChatAddr: ":9000", FileAddr: ":9001", RepliesPerSecond: 1e9, ReplyBurst: 1 << 30, PerSourcePerSecond: 1e9, PerSourceBurst: 1 << 30})
	sink := client(f, "127.0.0.1") // replies land here unread; UDP drops the overflow
	src := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	f.Fuzz(func(t *testing.T, datagram []byte) {
		before := r.Stats()
		r.handle(datagram, src)
		after := r.Stats()
		answered := after.Replied - before.Replied
		want := uint64(0)
		if string(datagram) == protocol.DiscoverRequest {
			want = 1
		}
		if answered != want {
			t.Fatalf("datagram %q answered %d times, want %d", datagram, answered, want)
		}
	})
}

// BenchmarkHandleRequest measures answering one loopback request (limiters,
// announced addresses, JSON, sendto).
func BenchmarkHandleRequest(b *testing.B) {
	r := start(b, Config{ChatAddr: ":9000", FileAddr: ":9001", RepliesPerSecond: 1e12, ReplyBurst: 1 << 30, PerSourcePerSecond: 1e12, PerSourceBurst: 1 << 30})
	sink := client(b, "127.0.0.1")
	src := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	req := []byte(protocol.DiscoverRequest)
	for b.Loop() {
		r.handle(req, src)
	}
	if r.Stats().Failed > 0 {
		b.Fatalf("stats %+v", r.Stats())
	}
}

// BenchmarkHandleIgnored measures dropping a datagram that is not a request,
// the cost of a junk flood.
func BenchmarkHandleIgnored(b *testing.B) {
	r := start(b, Config{ChatAddr: ":9000"})
	src := netip.MustParseAddrPort("127.0.0.1:5000")
	junk := []byte("CHATD DISCOVER 2")
	for b.Loop() {
		r.handle(junk, src)
	}
}
