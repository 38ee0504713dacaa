package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// openFTSTest opens a SQLite store whose search indexer indexes only when
// the test calls flush, with one user in one group conversation.
func openFTSTest(t *testing.T, dir string) (*sqlStore, int64, protocol.ConvID) {
	t.Helper()
	return openFTSTestDelay(t, dir, time.Hour)
}

// openFTSTestDelay is openFTSTest with the indexer's delay (after which
// it also retries a failed batch).
func openFTSTestDelay(t *testing.T, dir string, delay time.Duration) (*sqlStore, int64, protocol.ConvID) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, Config{Driver: "sqlite", DataDir: dir, ftsDelay: delay})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlStore)
	t.Cleanup(func() { s.Close() })
	u, err := s.UserByName(ctx, "fts")
	if err != nil {
		if u, err = s.CreateUser(ctx, "fts", "fts", "h", 1); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := s.GroupsOfUser(ctx, u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) == 0 {
		g, err := s.CreateGroup(ctx, "g", u.ID, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	conv, err := protocol.NewGroupConv(gs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return s, u.ID, conv
}

func appendTexts(t *testing.T, s *sqlStore, from int64, conv protocol.ConvID, bodies ...string) []Message {
	t.Helper()
	var out []Message
	for _, b := range bodies {
		m, _, err := s.AppendMessage(context.Background(), NewMessage{Conv: conv.String(), From: from, Type: TypeText, Body: b})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// waitFTS waits until the indexer's mark reaches id.
func waitFTS(t *testing.T, s *sqlStore, id int64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.fts.indexed.Load() < id; {
		if time.Now().After(deadline) {
			t.Fatalf("mark %d 20 s after opening, want %d", s.fts.indexed.Load(), id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// searchAll pages through a search limit at a time and returns the ids.
func searchAll(t *testing.T, s *sqlStore, user int64, q string, limit int) []int64 {
	t.Helper()
	var ids []int64
	var before int64
	for {
		page, more, err := s.SearchMessages(context.Background(), SearchQuery{User: user, Query: q, BeforeID: before, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			ids = append(ids, m.ID)
			before = m.ID
		}
		if !more {
			return ids
		}
	}
}

// TestSearchAcrossTheIndexMark: messages above the indexer's mark are
// found from their commit on, together with indexed ones, newest first,
// each once, across pages; after a flush the same search answers the same
// from the indexes alone.
func TestSearchAcrossTheIndexMark(t *testing.T) {
	s, u, conv := openFTSTest(t, t.TempDir())
	var all []Message
	for round := range 3 {
		all = append(all, appendTexts(t, s, u, conv,
			fmt.Sprintf("apple pie %d", round), "nothing here", fmt.Sprintf("an apple a day %d", round), "我们去吃饭")...)
		if round == 0 {
			s.fts.flush() // the first round indexed, the rest above the mark
		}
	}
	var want []int64
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Body != "nothing here" && all[i].Body != "我们去吃饭" {
			want = append(want, all[i].ID)
		}
	}
	check := func(stage string) {
		t.Helper()
		for _, limit := range []int{1, 2, 4, 50} {
			if got := searchAll(t, s, u, "APPLE", limit); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s, limit %d: found %v, want %v", stage, limit, got, want)
			}
		}
		// One and two characters: the short index and its body check.
		if got := searchAll(t, s, u, "吃", 10); len(got) != 3 {
			t.Fatalf("%s: 吃 found %v, want 3 messages", stage, got)
		}
		if got := searchAll(t, s, u, "吃饭", 10); len(got) != 3 {
			t.Fatalf("%s: 吃饭 found %v, want 3 messages", stage, got)
		}
	}
	if s.fts.indexed.Load() != all[3].ID {
		t.Fatalf("mark %d after the first flush, want %d", s.fts.indexed.Load(), all[3].ID)
	}
	check("above the mark")
	s.fts.flush()
	if s.fts.indexed.Load() != all[len(all)-1].ID {
		t.Fatalf("mark %d after the second flush, want %d", s.fts.indexed.Load(), all[len(all)-1].ID)
	}
	check("all indexed")
}

// TestRecallAboveTheIndexMark: a message recalled before it was indexed is
// not found, and the indexer does not add it later; one recalled after is
// removed from the indexes.
func TestRecallAboveTheIndexMark(t *testing.T) {
	s, u, conv := openFTSTest(t, t.TempDir())
	ms := appendTexts(t, s, u, conv, "secret plan one", "secret plan two")
	if _, err := s.RecallMessage(context.Background(), conv, ms[0].Seq, u, 10); err != nil {
		t.Fatal(err)
	}
	found := func() []int64 { return searchAll(t, s, u, "secret plan", 10) }
	if got := found(); len(got) != 1 || got[0] != ms[1].ID {
		t.Fatalf("before indexing: %v, want only %d", got, ms[1].ID)
	}
	s.fts.flush()
	if got := found(); len(got) != 1 || got[0] != ms[1].ID {
		t.Fatalf("after indexing: %v, want only %d", got, ms[1].ID)
	}
	if _, err := s.RecallMessage(context.Background(), conv, ms[1].Seq, u, 11); err != nil {
		t.Fatal(err)
	}
	s.fts.flush()
	if got := found(); len(got) != 0 {
		t.Fatalf("after the second recall: %v, want none", got)
	}
	var n, queued int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"secret plan"'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("index rows for recalled messages: %d, %v", n, err)
	}
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM search_unindex`).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("recalls still queued after the flush: %d, %v", queued, err)
	}
	// The drop was made durable on its own; index batches are not.
	var sync int
	if err := s.fts.db.QueryRow(`PRAGMA search.synchronous`).Scan(&sync); err != nil || sync != 1 {
		t.Fatalf("the indexer's synchronous after a drop: %d, %v; want 1 (NORMAL)", sync, err)
	}
}

// TestIndexCatchesUpOnOpen: what a store closed before its indexer ran
// leaves above the mark is indexed when the store is opened again, and
// what it had indexed is not indexed twice.
func TestIndexCatchesUpOnOpen(t *testing.T) {
	dir := t.TempDir()
	s, u, conv := openFTSTest(t, dir)
	ms := appendTexts(t, s, u, conv, "left behind")
	s.fts.flush() // the mark moves past the first message
	ms = append(ms, appendTexts(t, s, u, conv, "left over")...)
	if s.fts.indexed.Load() != ms[0].ID {
		t.Fatalf("mark %d, want %d", s.fts.indexed.Load(), ms[0].ID)
	}
	s.Close()
	s, u, _ = openFTSTest(t, dir)
	waitFTS(t, s, ms[1].ID)
	var stored int64
	if err := s.r.QueryRow(`SELECT indexed FROM search.index_state`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if m := s.fts.indexed.Load(); m != ms[1].ID || stored != m {
		t.Fatalf("mark %d (stored %d) after reopening, want %d", m, stored, ms[1].ID)
	}
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"left"'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("index rows after reopening: %d, %v; want 2", n, err)
	}
	if got := searchAll(t, s, u, "left", 10); len(got) != 2 {
		t.Fatalf("search after reopening: %v", got)
	}
}

// TestIndexerRunsByItself: with the default delay, committed messages are
// indexed without anyone asking.
func TestIndexerRunsByItself(t *testing.T) {
	st, err := Open(context.Background(), sqliteConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlStore)
	defer s.Close()
	u, err := s.CreateUser(context.Background(), "auto", "auto", "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateGroup(context.Background(), "g", u.ID, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := protocol.NewGroupConv(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms := appendTexts(t, s, u.ID, conv, "by itself")
	for deadline := time.Now().Add(20 * time.Second); s.fts.indexed.Load() < ms[0].ID; {
		if time.Now().After(deadline) {
			t.Fatalf("mark %d 20 s after the commit of %d", s.fts.indexed.Load(), ms[0].ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommitsDoNotWaitForTheIndex: while the index file's write lock is
// held (as by a long index transaction or one of FTS5's merges), messages
// still commit and are found; the indexer indexes them once it is free.
func TestCommitsDoNotWaitForTheIndex(t *testing.T) {
	dir := t.TempDir()
	s, u, conv := openFTSTest(t, dir)
	lock, err := sql.Open("sqlite", "file:"+searchIndexPath(filepath.Join(dir, "chatd.db"))+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	tx, err := lock.Begin() // the index file's write lock
	if err != nil {
		t.Fatal(err)
	}
	// Well below the writer's 10 s busy timeout: a commit that waited
	// for the index file's lock would fail.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i := range 20 {
		if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv.String(), From: u, Type: TypeText, Body: fmt.Sprintf("while locked %d", i)}); err != nil {
			t.Fatalf("append %d with the index file locked: %v", i, err)
		}
	}
	if got := searchAll(t, s, u, "while locked", 50); len(got) != 20 {
		t.Fatalf("found %d while the index is locked, want 20", len(got))
	}
	tx.Rollback()
	s.fts.flush()
	if m := s.fts.indexed.Load(); m == 0 {
		t.Fatal("nothing indexed after the lock was released")
	}
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"while locked"'`).Scan(&n); err != nil || n != 20 {
		t.Fatalf("index rows: %d, %v; want 20", n, err)
	}
}

// TestSearchIndexRebuilt: an index file that is missing, of another
// layout, or ahead of the messages (a database restored by hand under a
// newer index) is built anew from the messages when the store opens.
func TestSearchIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chatd.db")
	s, u, conv := openFTSTest(t, dir)
	appendTexts(t, s, u, conv, "kept one", "kept two")
	s.fts.flush()
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := Backup(context.Background(), Config{Driver: "sqlite", DataDir: dir}, backup); err != nil {
		t.Fatal(err)
	}
	appendTexts(t, s, u, conv, "kept later")
	s.fts.flush()
	s.Close()

	reopen := func(stage string, want int) *sqlStore {
		t.Helper()
		s, u, _ = openFTSTest(t, dir)
		// Found at once, from the scan above the mark, then from the
		// index the indexer builds.
		if got := searchAll(t, s, u, "kept", 10); len(got) != want {
			t.Fatalf("%s: found %v, want %d messages", stage, got, want)
		}
		var top int64
		if err := s.r.QueryRow(`SELECT MAX(id) FROM messages`).Scan(&top); err != nil {
			t.Fatal(err)
		}
		waitFTS(t, s, top)
		if got := searchAll(t, s, u, "kept", 10); len(got) != want {
			t.Fatalf("%s, indexed: found %v, want %d messages", stage, got, want)
		}
		var n int
		if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"kept"'`).Scan(&n); err != nil || n != want {
			t.Fatalf("%s: index rows %d, %v; want %d", stage, n, err, want)
		}
		return s
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(searchIndexPath(db) + suffix)
	}
	s = reopen("index file removed", 3)
	if _, err := s.fts.db.Exec(`UPDATE search.index_state SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = reopen("index of another layout", 3)
	s.Close()

	// The database put back from the backup, the index file left: the
	// index is ahead, and the ids after the backup's are taken anew.
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = reopen("index ahead of the messages", 2)
	appendTexts(t, s, u, conv, "other words")
	s.fts.flush()
	if got := searchAll(t, s, u, "kept later", 10); len(got) != 0 {
		t.Fatalf("a message of the index file, not of the restored database, found: %v", got)
	}
	if got := searchAll(t, s, u, "other words", 10); len(got) != 1 {
		t.Fatalf("the new message: found %v", got)
	}
}

// TestOpenDoesNotWaitForTheIndex: a store whose index is behind opens and
// answers searches (from the scan above the mark) while the index file is
// locked; the indexer catches up once the lock is gone.
func TestOpenDoesNotWaitForTheIndex(t *testing.T) {
	dir := t.TempDir()
	s, u, conv := openFTSTest(t, dir)
	ms := appendTexts(t, s, u, conv, "behind one", "behind two")
	s.Close()
	lock, err := sql.Open("sqlite", "file:"+searchIndexPath(filepath.Join(dir, "chatd.db"))+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	tx, err := lock.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Indexing at open would wait for the lock until the busy timeout
	// and fail. The indexer's attempt fails; it retries after its delay.
	s, u, _ = openFTSTestDelay(t, dir, 20*time.Millisecond)
	if got := searchAll(t, s, u, "behind", 10); len(got) != 2 {
		t.Fatalf("found %v with the index locked, want 2 messages", got)
	}
	if m := s.fts.indexed.Load(); m >= ms[1].ID {
		t.Fatalf("mark %d while the index file is locked", m)
	}
	tx.Rollback()
	waitFTS(t, s, ms[1].ID)
}

// TestRecallDroppedOnOpen: a recall committed after its message was
// indexed, by a store closed before its indexer dropped it, is dropped
// from the index by the next open.
func TestRecallDroppedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s, u, conv := openFTSTest(t, dir)
	ms := appendTexts(t, s, u, conv, "gone soon")
	s.fts.flush()
	s.fts.close() // as if the process stopped before the indexer ran again
	if _, err := s.RecallMessage(context.Background(), conv, ms[0].Seq, u, 10); err != nil {
		t.Fatal(err)
	}
	s.fts = nil // closed already
	s.Close()
	s, _, _ = openFTSTest(t, dir)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n, queued int
		if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"gone soon"'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := s.r.QueryRow(`SELECT COUNT(*) FROM search_unindex`).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if n == 0 && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after opening: %d index rows of the recalled message, %d recalls queued", n, queued)
		}
	}
}
