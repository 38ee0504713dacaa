package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// TestMain turns the test binary into the crash tests' helper process
// when they re-execute it with CHATD_CRASH_HELPER=1.
func TestMain(m *testing.M) {
	if os.Getenv("CHATD_CRASH_HELPER") == "1" {
		crashHelper()
		return
	}
	os.Exit(m.Run())
}

// crashHelper appends as fast as it can, printing "ack <conv> <seq>
// <msg_id> <client_msg_id>" for every acknowledged message, until killed.
func crashHelper() {
	cfg := Config{Driver: os.Getenv("CHATD_CRASH_DRIVER"), DSN: os.Getenv("CHATD_CRASH_DSN")}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper open:", err)
		os.Exit(2)
	}
	convs := strings.Split(os.Getenv("CHATD_CRASH_CONVS"), ",")
	from, _ := strconv.ParseInt(os.Getenv("CHATD_CRASH_FROM"), 10, 64)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				conv := convs[(w+i)%len(convs)]
				cid := fmt.Sprintf("%d-%d", w, i)
				m, _, err := s.AppendMessage(context.Background(), NewMessage{Conv: conv, From: from, Type: "text", Body: "crash " + cid, ClientMsgID: cid, TS: time.Now().UnixMilli()})
				if err != nil {
					fmt.Fprintln(os.Stderr, "helper append:", err)
					os.Exit(3)
				}
				// One write per line, flushed at once: a line the parent
				// reads was acknowledged.
				mu.Lock()
				fmt.Fprintf(out, "ack %s %d %d %s\n", m.Conv, m.Seq, m.ID, m.ClientMsgID)
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func TestCrashSQLite(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.DSN = cfg.DataDir + "/crash.db"
	testCrash(t, cfg)
}

func TestCrashMySQL(t *testing.T) { testCrash(t, mysqlConfig(t)) }

type ackLine struct {
	conv string
	seq  int64
	id   int64
	cid  string
}

// testCrash kills a helper process that is appending (SIGKILL, at a
// random moment after it has had some appends acknowledged), reopens the
// store and checks that every acknowledged message is there and that
// every conversation's seqs are gapless.
func testCrash(t *testing.T, cfg Config) {
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _, pconv := friendsConv(t, s)
	g, err := s.CreateGroup(ctx, "crash", a, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	convs := []string{pconv, protocol.GroupConv(g.ID)}
	s.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CHATD_CRASH_HELPER=1", "CHATD_CRASH_DRIVER="+cfg.Driver, "CHATD_CRASH_DSN="+cfg.DSN,
		"CHATD_CRASH_CONVS="+strings.Join(convs, ","), "CHATD_CRASH_FROM="+strconv.FormatInt(a, 10))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	minAcks := 1000 + rand.IntN(2000)
	var acks []ackLine
	sc := bufio.NewScanner(stdout)
	killed := false
	var killAt time.Time
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] != "ack" {
			continue // a line cut by the kill
		}
		seq, _ := strconv.ParseInt(f[2], 10, 64)
		id, _ := strconv.ParseInt(f[3], 10, 64)
		acks = append(acks, ackLine{f[1], seq, id, f[4]})
		if !killed && len(acks) >= minAcks {
			if killAt.IsZero() {
				killAt = time.Now().Add(time.Duration(rand.IntN(200)) * time.Millisecond)
			} else if time.Now().After(killAt) {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended before it was killed (%d acks): %v", len(acks), err)
	}
	t.Logf("killed the helper after %d acknowledged appends (threshold %d)", len(acks), minAcks)

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := map[string]map[int64]Message{}
	for _, conv := range convs {
		all, err := s.Messages(ctx, conv, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		stored[conv] = map[int64]Message{}
		for i, m := range all {
			if m.Seq != int64(i+1) {
				t.Fatalf("%s: gap at position %d: seq %d", conv, i, m.Seq)
			}
			stored[conv][m.Seq] = m
		}
		cs, err := s.Conversations(ctx, a, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range cs {
			if ci.Conv == conv && ci.LastSeq != int64(len(all)) {
				t.Fatalf("%s: counter %d, stored %d", conv, ci.LastSeq, len(all))
			}
		}
	}
	for _, ack := range acks {
		m, ok := stored[ack.conv][ack.seq]
		if !ok || m.ID != ack.id || m.ClientMsgID != ack.cid {
			t.Fatalf("acknowledged %+v lost after kill -9 (stored %+v)", ack, m)
		}
	}
	// The store takes appends again after the crash.
	m, _, err := s.AppendMessage(ctx, NewMessage{Conv: pconv, From: a, Type: "text", Body: "after", ClientMsgID: "after", TS: 1})
	if err != nil || m.Seq != int64(len(stored[pconv])+1) {
		t.Fatalf("append after crash: %+v, %v", m, err)
	}
}
