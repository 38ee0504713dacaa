package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// On SQLite every fixed query text is prepared once, whatever the number of
// calls (concurrent ones included), and the same *sql.Stmt serves them all.
func TestStmtCachePreparesOnce(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, sqliteConfig(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.CreateUser(ctx, "alice", "a", "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("token-hash")
	if err := s.CreateSession(ctx, Session{TokenHash: hash, UserID: u.ID, Device: "pc", CreatedAt: 1, ExpiresAt: 100}); err != nil {
		t.Fatal(err)
	}
	login := func() {
		if _, err := s.UserByName(ctx, "Alice"); err != nil {
			t.Error(err)
		}
		if _, err := s.Session(ctx, hash, 2); err != nil {
			t.Error(err)
		}
		if _, _, err := s.SessionUser(ctx, "Alice", hash, 2); err != nil {
			t.Error(err)
		}
		if _, err := s.Conversations(ctx, u.ID, 0); err != nil {
			t.Error(err)
		}
	}
	login()
	first := map[string]*sql.Stmt{}
	for _, q := range []string{qUserByName, qSession, qConversations, qSessionUser} {
		if first[q] = s.reads.stmts[q]; first[q] == nil {
			t.Fatalf("not cached after a call: %s", q)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				login()
			}
		}()
	}
	wg.Wait()
	if len(s.reads.stmts) != len(first) {
		t.Errorf("%d statements cached on the reader after 201 logins, want %d", len(s.reads.stmts), len(first))
	}
	for q, st := range first {
		if s.reads.stmts[q] != st {
			t.Errorf("prepared again: %s", q)
		}
	}
	if n := len(s.writes.stmts); n != 2 {
		t.Errorf("%d statements cached on the writer, want 2 (create user, create session)", n)
	}
}

// MySQL runs texts directly (interpolateParams): nothing is prepared.
func TestStmtCacheOffOnMySQL(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, mysqlConfig(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Session(ctx, []byte("x"), 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session: %v, want ErrNotFound", err)
	}
	if n := len(s.reads.stmts) + len(s.writes.stmts); n != 0 {
		t.Errorf("%d statements prepared on MySQL, want 0", n)
	}
}

// A pool caches at most maxCachedStmts texts; later texts still run,
// unprepared.
func TestStmtCacheBounded(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, sqliteConfig(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < maxCachedStmts+10; i++ {
		var got int
		if err := s.reads.queryRow(ctx, fmt.Sprintf("SELECT ? + %d", i), 1).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("text %d: %d, %v", i, got, err)
		}
	}
	if n := len(s.reads.stmts); n != maxCachedStmts {
		t.Errorf("%d statements cached, want %d", n, maxCachedStmts)
	}
}

// Close closes the cached statements, and calls after Close report
// ErrClosed on every backend.
func TestStmtCacheClose(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			cfg := sqliteConfig(t)
			if backend == "mysql" {
				cfg = mysqlConfig(t)
			}
			ctx := context.Background()
			s, err := open(ctx, cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			u, err := s.CreateUser(ctx, "bob", "b", "h", 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.UserByID(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			st := s.reads.stmts[`SELECT `+userCols+`, password_hash FROM users WHERE id = ?`]
			if (st != nil) != (backend == "sqlite") {
				t.Fatalf("cached statement %v on %s", st, backend)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if st != nil {
				// database/sql checks the statement before the pool.
				if _, err := st.QueryContext(ctx, u.ID); err == nil || !strings.Contains(err.Error(), "statement is closed") {
					t.Errorf("cached statement after Close: %v, want statement is closed", err)
				}
			}
			if n := len(s.reads.stmts) + len(s.writes.stmts); n != 0 {
				t.Errorf("%d statements left after Close", n)
			}
			calls := map[string]func() error{
				"UserByID": func() error { _, err := s.UserByID(ctx, u.ID); return err },
				"Session":  func() error { _, err := s.Session(ctx, []byte("x"), 1); return err },
				"Messages": func() error { _, err := s.Messages(ctx, "p:1:2", 0, 10); return err },
				"CreateSession": func() error {
					return s.CreateSession(ctx, Session{TokenHash: []byte("y"), UserID: u.ID, ExpiresAt: 9})
				},
				"Group": func() error { _, err := s.Group(ctx, 1); return err },
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close: %v, want ErrClosed", name, err)
				}
			}
		})
	}
}

// TestConversationsLastMessages: every conversation comes with its newest
// message, read in the same query as the list.
func TestConversationsLastMessages(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, sqliteConfig(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	me, err := s.CreateUser(ctx, "me", "m", "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		u, err := s.CreateUser(ctx, fmt.Sprintf("peer%d", i), "p", "h", 1)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := s.CreateFriendRequest(ctx, u.ID, me.ID, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RespondFriendRequest(ctx, fr.ID, true, 1); err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j++ {
			if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: protocol.PrivateConv(u.ID, me.ID), From: u.ID, Type: "text", Body: fmt.Sprint("m", j), TS: 2}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cs, err := s.Conversations(ctx, me.ID, 0)
	if err != nil || len(cs) != 5 {
		t.Fatalf("%d conversations, %v", len(cs), err)
	}
	for _, c := range cs {
		if c.Last == nil || c.Last.Seq != c.LastSeq || c.Last.Body != fmt.Sprint("m", c.LastSeq-1) {
			t.Errorf("%s: last %+v, want seq %d", c.Conv, c.Last, c.LastSeq)
		}
	}
}
