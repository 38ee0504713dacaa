package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// openFTSTest opens a SQLite store whose search indexer indexes only when
// the test calls flush, with one user in one group conversation.
func openFTSTest(t *testing.T, dir string) (*sqlStore, int64, protocol.ConvID) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, Config{Driver: "sqlite", DataDir: dir, ftsDelay: time.Hour})
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
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM messages_trgm WHERE messages_trgm MATCH '"secret plan"'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("index rows for recalled messages: %d, %v", n, err)
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
	var stored int64
	if err := s.r.QueryRow(`SELECT id FROM search_indexed`).Scan(&stored); err != nil {
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
