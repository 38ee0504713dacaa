package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatd/chatd/protocol"
)

// BenchmarkAppendCommitters compares one and four parallel group-commit
// workers on MySQL with 64 senders.
func BenchmarkAppendCommitters(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("mysql/committers=%d", n), func(b *testing.B) {
			cfg := mysqlConfig(b)
			cfg.Committers = n
			benchAppend(b, cfg, 64)
		})
	}
}

// BenchmarkAppendWindow compares batch windows with 64 senders (-1: never
// wait).
func BenchmarkAppendWindow(b *testing.B) {
	for _, backend := range []string{"sqlite", "mysql"} {
		for _, w := range []time.Duration{-1, 500 * time.Microsecond, 2 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/window=%v", backend, w), func(b *testing.B) {
				cfg := sqliteConfig(b)
				if backend == "mysql" {
					cfg = mysqlConfig(b)
				}
				cfg.BatchWindow = w
				benchAppend(b, cfg, 64)
			})
		}
	}
}

// BenchmarkAppend measures group-committed AppendMessage throughput
// (msgs/s) and p99 latency with 1, 64 and 1,024 concurrent senders spread
// over 16 group conversations, on both backends (MySQL with the Mroonga
// search index when the server has it, and without: mysql-noindex).
func BenchmarkAppend(b *testing.B) {
	for _, backend := range []string{"sqlite", "mysql", "mysql-noindex"} {
		for _, senders := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("%s/senders=%d", backend, senders), func(b *testing.B) {
				cfg := sqliteConfig(b)
				switch backend {
				case "mysql":
					cfg = mysqlConfig(b)
				case "mysql-noindex":
					cfg = mysqlConfig(b)
					cfg.noSearchIndex = true
				}
				benchAppend(b, cfg, senders)
			})
		}
	}
}

func benchAppend(b *testing.B, cfg Config, senders int) {
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const nconv, nusers = 16, 64
	var users []int64
	for i := 0; i < nusers; i++ {
		u, err := s.CreateUser(ctx, fmt.Sprintf("bench%d", i), "b", "h", 1)
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u.ID)
	}
	var convs []string
	for i := 0; i < nconv; i++ {
		g, err := s.CreateGroup(ctx, "bench", users[0], users, 1)
		if err != nil {
			b.Fatal(err)
		}
		convs = append(convs, protocol.GroupConv(g.ID))
	}
	body := "a benchmark message of a typical chat length, about eighty bytes long ......."
	var next atomic.Int64
	hists := make([]*hdrhistogram.Histogram, senders)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < senders; w++ {
		hists[w] = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				_, _, err := s.AppendMessage(ctx, NewMessage{Conv: convs[w%nconv], From: users[w%nusers], Type: "text",
					Body: body, ClientMsgID: fmt.Sprintf("b%d", i), TS: 1})
				if err != nil {
					failed.Store(err)
					return
				}
				hists[w].RecordValue(time.Since(t0).Microseconds())
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ss, ok := s.(*sqlStore); ok && ss.search.on.Load() {
		// Appends leave the search indexing to a goroutine: report the
		// rate with it done too (what a sustained load gets).
		for {
			var n int
			if err := ss.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_pending`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "indexed_msgs/s")
	}
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(all.ValueAtQuantile(99))/1000, "p99_ms")
	b.ReportMetric(float64(all.ValueAtQuantile(50))/1000, "p50_ms")
}

// BenchmarkAppendSQLiteNormal is BenchmarkAppend on SQLite with
// synchronous=NORMAL (no fsync per batch: survives a process crash, not a
// power loss).
func BenchmarkAppendSQLiteNormal(b *testing.B) {
	for _, senders := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			cfg := sqliteConfig(b)
			cfg.SQLiteSynchronous = "NORMAL"
			benchAppend(b, cfg, senders)
		})
	}
}

// BenchmarkLoginReads measures the reads of a login on both backends:
// conversations with last messages, then up to 100 missed messages of one.
func BenchmarkLoginReads(b *testing.B) {
	benchBackends(b, func(b *testing.B, ctx context.Context, s Store) {
		me, _ := s.CreateUser(ctx, "reader", "r", "h", 1)
		var conv string
		for i := 0; i < 20; i++ {
			u, _ := s.CreateUser(ctx, fmt.Sprintf("peer%d", i), "p", "h", 1)
			fr, _ := s.CreateFriendRequest(ctx, u.ID, me.ID, "", 1)
			if _, err := s.RespondFriendRequest(ctx, fr.ID, true, 1); err != nil {
				b.Fatal(err)
			}
			conv = protocol.PrivateConv(u.ID, me.ID)
			for j := 0; j < 10; j++ {
				if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: u.ID, Type: "text", Body: "hello", TS: 2}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cs, err := s.Conversations(ctx, me.ID, 0)
			if err != nil || len(cs) != 20 {
				b.Fatalf("%d convs, %v", len(cs), err)
			}
			ms, err := s.Messages(ctx, conv, 0, 100)
			if err != nil || len(ms) != 10 {
				b.Fatalf("%d messages, %v", len(ms), err)
			}
		}
	})
}

// BenchmarkSession measures the store reads of a token re-login on both
// backends: the user by name, then the session by token hash.
func BenchmarkSession(b *testing.B) {
	benchBackends(b, func(b *testing.B, ctx context.Context, s Store) {
		u, err := s.CreateUser(ctx, "Reader", "r", "h", 1)
		if err != nil {
			b.Fatal(err)
		}
		hash := make([]byte, 32)
		hash[0] = 7
		if err := s.CreateSession(ctx, Session{TokenHash: hash, UserID: u.ID, Device: "pc", CreatedAt: 1, ExpiresAt: 1 << 62}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			got, err := s.UserByName(ctx, "reader")
			if err != nil || got.ID != u.ID {
				b.Fatalf("user %d, %v", got.ID, err)
			}
			ss, err := s.Session(ctx, hash, 2)
			if err != nil || ss.UserID != u.ID {
				b.Fatalf("session of %d, %v", ss.UserID, err)
			}
		}
	})
}

// benchBackends runs fn as one sub-benchmark per backend, on a fresh Store
// closed after it.
func benchBackends(b *testing.B, fn func(b *testing.B, ctx context.Context, s Store)) {
	for _, backend := range []string{"sqlite", "mysql"} {
		b.Run(backend, func(b *testing.B) {
			cfg := sqliteConfig(b)
			if backend == "mysql" {
				cfg = mysqlConfig(b)
			}
			ctx := context.Background()
			s, err := Open(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fn(b, ctx, s)
		})
	}
}
