package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
)

// friendsConv sets up two friends and returns them and their conversation.
func friendsConv(t *testing.T, s Store) (a, b int64, conv string) {
	t.Helper()
	ctx := context.Background()
	ua, err := s.CreateUser(ctx, "fail_a", "A", "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	ub, _ := s.CreateUser(ctx, "fail_b", "B", "h", 1)
	fr, _ := s.CreateFriendRequest(ctx, ua.ID, ub.ID, "", 1)
	if _, err := s.RespondFriendRequest(ctx, fr.ID, true, 1); err != nil {
		t.Fatal(err)
	}
	return ua.ID, ub.ID, protocol.PrivateConv(ua.ID, ub.ID)
}

// checkGapless verifies the conversation holds seqs 1..n with no gap, that
// its counter says n, and that every acknowledged message is stored as
// acknowledged; it returns the stored messages by client_msg_id.
func checkGapless(t *testing.T, s Store, conv string, acked []Message) map[string]Message {
	t.Helper()
	ctx := context.Background()
	all, err := s.Messages(ctx, conv, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	byCID := map[string]Message{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("gap: position %d holds seq %d", i, m.Seq)
		}
		byCID[m.ClientMsgID] = m
	}
	for _, m := range acked {
		if !reflect.DeepEqual(byCID[m.ClientMsgID], m) {
			t.Fatalf("acknowledged %+v, stored %+v", m, byCID[m.ClientMsgID])
		}
	}
	ua, _ := s.(*sqlStore).ConvMembers(ctx, conv)
	cs, err := s.Conversations(ctx, ua[0], 10)
	if err != nil || len(cs) != 1 || cs[0].LastSeq != int64(len(all)) {
		t.Fatalf("counter %+v (err %v), stored %d", cs, err, len(all))
	}
	return byCID
}

func TestMidBatchFailureSQLite(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.BatchWindow = 5 * time.Millisecond
	testMidBatchFailure(t, cfg)
}

func TestMidBatchFailureMySQL(t *testing.T) {
	cfg := mysqlConfig(t)
	cfg.BatchWindow = 5 * time.Millisecond
	testMidBatchFailure(t, cfg)
}

// A batch that fails after its rows were inserted, before commit: every
// caller in it gets ErrUnavailable, none of its rows survive, and the next
// batches carry on without a gap.
func testMidBatchFailure(t *testing.T, cfg Config) {
	ctx := context.Background()
	var logBuf syncBuffer
	log := zerolog.New(&logBuf)
	cfg.Logger = &log
	s, err := open(ctx, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, conv := friendsConv(t, s)
	if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: "text", Body: "first", ClientMsgID: "first", TS: 1}); err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	s.c.failHook = func() error {
		if failures.Add(1) == 1 { // one batch
			return errors.New("injected failure before commit")
		}
		return nil
	}
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []Message
	var failed []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cid := fmt.Sprintf("m%d", i)
			m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: []int64{a, b}[i%2], Type: "text", Body: cid, ClientMsgID: cid, TS: 2})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("error %v is not ErrUnavailable", err)
				}
				failed = append(failed, cid)
				return
			}
			acked = append(acked, m)
		}(i)
	}
	t0 := time.Now()
	wg.Wait()
	t.Logf("appends took %v", time.Since(t0))
	if len(failed) == 0 {
		t.Fatal("no append failed: the hook did not run")
	}
	t0 = time.Now()
	byCID := checkGapless(t, s, conv, acked)
	t.Logf("check took %v", time.Since(t0))
	for _, cid := range failed {
		if m, ok := byCID[cid]; ok {
			t.Fatalf("message of a failed batch was written: %+v", m)
		}
	}
	if len(byCID) != 1+len(acked) {
		t.Fatalf("stored %d, acknowledged %d+1", len(byCID), len(acked))
	}
	if !strings.Contains(logBuf.String(), "append batch failed") || !strings.Contains(logBuf.String(), "injected failure") {
		t.Fatalf("the failed batch was not logged: %q", logBuf.String())
	}
	// The failed ones can be sent again.
	m, dup, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: "text", Body: "again", ClientMsgID: failed[0], TS: 3})
	if err != nil || dup || m.Seq != int64(len(byCID)+1) {
		t.Fatalf("resend: %+v dup=%v %v", m, dup, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the committer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proxy is a TCP relay to MariaDB that the test can cut and restore, to
// make the database unreachable mid-way.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every relayed connection: the database
// is now unreachable (connections refused).
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *proxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// The database goes away while senders are appending: they get
// ErrUnavailable, nothing is half-written, and once the database is back
// the same Store appends again without being reopened.
func TestMySQLOutage(t *testing.T) {
	base := mysqlConfig(t)
	mc, err := mysql.ParseDSN(base.DSN)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, mc.Addr)
	mc.Addr = px.addr
	mc.Timeout = 2 * time.Second
	mc.ReadTimeout = 5 * time.Second
	cfg := Config{Driver: "mysql", DSN: mc.FormatDSN()}
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, conv := friendsConv(t, s)

	var mu sync.Mutex
	var acked []Message
	var unavailable, other int
	var seq atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cid := fmt.Sprintf("o%d", seq.Add(1))
				m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: []int64{a, b}[w%2], Type: "text", Body: cid, ClientMsgID: cid, TS: 1})
				mu.Lock()
				switch {
				case err == nil:
					acked = append(acked, m)
				case errors.Is(err, ErrUnavailable):
					unavailable++
				default:
					other++
					t.Errorf("append during outage: %v (not ErrUnavailable)", err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}(w)
	}
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked), unavailable
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("appends before the outage", func() bool { n, _ := count(); return n >= 200 })
	px.cut()
	waitFor("ErrUnavailable during the outage", func() bool { _, u := count(); return u >= 20 })
	if _, err := s.UserByID(ctx, a); !errors.Is(err, ErrUnavailable) {
		t.Errorf("read during the outage: %v, want ErrUnavailable", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if err := s.Ping(pctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ping during the outage: %v, want ErrUnavailable", err)
	}
	cancel()
	before, _ := count()
	px.restore(t)
	waitFor("appends after recovery", func() bool { n, _ := count(); return n >= before+200 })
	if _, err := s.UserByID(ctx, a); err != nil {
		t.Errorf("read after recovery: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping after recovery: %v", err)
	}
	close(stop)
	wg.Wait()
	n, u := count()
	t.Logf("acknowledged %d, unavailable %d, other errors %d", n, u, other)
	checkGapless(t, s, conv, acked)
}

func TestHugeBatchSQLite(t *testing.T) { testHugeBatch(t, sqliteConfig(t)) }

func TestHugeBatchMySQL(t *testing.T) { testHugeBatch(t, mysqlConfig(t)) }

// One batch of 200 messages of 96 KiB (19 MB, over MariaDB's default 16
// MiB max_allowed_packet) commits: inserts are split by size. They are
// not of type text, so SQLite's search index (seconds for 19 MB, minutes
// under -race) stays out of a test about statement sizes.
func testHugeBatch(t *testing.T, cfg Config) {
	ctx := context.Background()
	s, err := open(ctx, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _, conv := friendsConv(t, s)
	body := strings.Repeat("x", 96<<10)
	batch := make([]*appendReq, 200)
	for i := range batch {
		batch[i] = &appendReq{ctx: ctx, m: NewMessage{Conv: conv, From: a, Type: "blob", Body: body, ClientMsgID: fmt.Sprint(i), TS: 1}}
	}
	res := make([]appendRes, len(batch))
	first, err := s.c.takeIDs(len(batch))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.c.commit(batch, res, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Messages(ctx, conv, 190, 100)
	if err != nil || len(got) != 10 || got[9].Seq != 200 || got[9].Body != body {
		t.Fatalf("after a huge batch: %d messages, %v", len(got), err)
	}
}

// A lone sender is never held back by the batch window: with a window of
// an hour, sequential appends still complete at once.
func TestLoneSenderDoesNotWait(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.BatchWindow = time.Hour
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _, conv := friendsConv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= 20; i++ {
		m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: "text", Body: "x", TS: 1})
		if err != nil || m.Seq != int64(i) {
			t.Fatalf("append %d: %+v, %v", i, m, err)
		}
	}
}
