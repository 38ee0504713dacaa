package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// mroongaConfig is mysqlConfig on a server that must have Mroonga (CI
// installs it; see .ci/run).
func mroongaConfig(t *testing.T) Config {
	t.Helper()
	cfg := mysqlConfig(t)
	cfg.searchWindow = -1 // every search asks the index
	s, err := open(context.Background(), cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.search.on.Load() {
		t.Fatal("the MySQL server has no Mroonga engine: install mariadb-plugin-mroonga and run INSTALL SONAME 'ha_mroonga' (as .ci/run does)")
	}
	return cfg
}

// openQuiet opens a store whose indexer is stopped, so tests index by
// calling flushIndex.
func openQuiet(t *testing.T, cfg Config) *sqlStore {
	t.Helper()
	s, err := open(context.Background(), cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.stopIndexer()
	s.search.quit = nil
	return s
}

// flushIndex does the indexer's work now: every pending range.
func flushIndex(s *sqlStore) error {
	r, err := s.pendingRanges(1 << 62)
	if err != nil {
		return err
	}
	return s.indexRanges(r)
}

func searchIDs(t *testing.T, s *sqlStore, user int64, q string) []int64 {
	t.Helper()
	found, _, err := s.SearchMessages(context.Background(), SearchQuery{User: user, Query: q})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	out := []int64{}
	for _, m := range found {
		out = append(out, m.ID)
	}
	return out
}

// indexed returns the index's rows (id -> stored body) and how many
// ranges are pending.
func indexed(t *testing.T, s *sqlStore) (map[int64]string, int) {
	t.Helper()
	rows, err := s.w.Query(`SELECT id, body FROM ` + searchTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		out[id] = body
	}
	var n int
	if err := s.w.QueryRow(`SELECT COUNT(*) FROM search_pending`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return out, n
}

// A message is found from its commit on: pending, then indexed (lowered,
// text only); the index answers; a failed batch records nothing; a
// recalled message leaves the index, or never enters it.
func TestMroongaIndex(t *testing.T) {
	ctx := context.Background()
	s := openQuiet(t, mroongaConfig(t))
	a, b, conv := friendsConv(t, s)
	send := func(body, typ string) Message {
		t.Helper()
		m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: typ, Body: body, TS: 1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	text := send("Needle ΘΗΝ", TypeText)
	send("needle.txt", TypeFile)
	if idx, pending := indexed(t, s); len(idx) != 0 || pending != 1 {
		t.Fatalf("before indexing: index %v, %d pending", idx, pending)
	}
	if got := searchIDs(t, s, b, "NEEDLE θην"); !reflect.DeepEqual(got, []int64{text.ID}) {
		t.Fatalf("search while pending: %v", got)
	}
	if err := flushIndex(s); err != nil {
		t.Fatal(err)
	}
	if idx, pending := indexed(t, s); !reflect.DeepEqual(idx, map[int64]string{text.ID: "needle θην"}) || pending != 0 {
		t.Fatalf("after indexing: index %v, %d pending", idx, pending)
	}
	if got := searchIDs(t, s, b, "NEEDLE θην"); !reflect.DeepEqual(got, []int64{text.ID}) {
		t.Fatalf("search: %v", got)
	}
	// The index answers: a message it lacks is not found (the scan
	// would find it).
	if _, err := s.w.Exec(`DELETE FROM `+searchTable+` WHERE id = ?`, text.ID); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, b, "needle"); len(got) != 0 {
		t.Fatalf("search without the index row: %v", got)
	}

	// A batch that fails before its commit records nothing.
	s.c.failHook = func() error { return errors.New("injected") }
	if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: TypeText, Body: "ghost words", TS: 1}); err == nil {
		t.Fatal("append succeeded through the failure")
	}
	s.c.failHook = nil
	if _, pending := indexed(t, s); pending != 0 {
		t.Fatalf("failed batch left %d pending", pending)
	}
	if got := searchIDs(t, s, b, "ghost"); len(got) != 0 {
		t.Fatalf("failed append found: %v", got)
	}

	// A recall takes the text out of the index; one before indexing
	// keeps it out.
	cid, err := protocol.ParseConv(conv)
	if err != nil {
		t.Fatal(err)
	}
	secret := send("secret plan", TypeText)
	if err := flushIndex(s); err != nil {
		t.Fatal(err)
	}
	hidden := send("hidden secret", TypeText)
	for _, m := range []Message{secret, hidden} {
		if _, err := s.RecallMessage(ctx, cid, m.Seq, a, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := flushIndex(s); err != nil {
		t.Fatal(err)
	}
	idx, _ := indexed(t, s)
	if _, ok := idx[secret.ID]; ok {
		t.Fatal("recalled text still in the index")
	}
	if _, ok := idx[hidden.ID]; ok {
		t.Fatal("text recalled before indexing was indexed")
	}
	if got := searchIDs(t, s, b, "secret"); len(got) != 0 {
		t.Fatalf("recalled message found: %v", got)
	}
}

// Messages written by a store without the index (Mroonga missing, or the
// fallback forced) are found by the others, which stop using the index at
// once; the next start with Mroonga records them and its indexer (in
// batches) indexes them. A lost index table fails neither appends nor
// searches, and the next start rebuilds it. Ranges a process left pending
// (a crash) are indexed by the next one to start.
func TestMroongaMigrationAndFallback(t *testing.T) {
	ctx := context.Background()
	cfg := mroongaConfig(t)
	old := searchBackfillBatch
	searchBackfillBatch = 2
	defer func() { searchBackfillBatch = old }()

	s1 := openQuiet(t, cfg)
	a, b, conv := friendsConv(t, s1)
	noIdx := cfg
	noIdx.noSearchIndex = true
	s2, err := open(ctx, noIdx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	appendTo := func(s *sqlStore, body string) {
		t.Helper()
		m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: TypeText, Body: body, TS: 1})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{m.ID}, want...)
	}
	for _, body := range []string{"late one", "late two", "late three", "late four", "late five"} {
		appendTo(s2, body)
	}
	s2.Close()
	if idx, pending := indexed(t, s1); len(idx) != 0 || pending != 0 {
		t.Fatalf("the unindexed store recorded %v, %d pending", idx, pending)
	}
	if got := searchIDs(t, s1, b, "late"); !reflect.DeepEqual(got, want) {
		t.Fatalf("the indexed store finds %v, want %v", got, want)
	}
	// A start with Mroonga records them; its indexer's work done here.
	if err := flushIndex(openQuiet(t, cfg)); err != nil {
		t.Fatal(err)
	}
	if idx, pending := indexed(t, s1); len(idx) != len(want) || pending != 0 {
		t.Fatalf("migration indexed %d messages, %d pending; want %d", len(idx), pending, len(want))
	}
	if got := searchIDs(t, s1, b, "late"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after migration: %v, want %v", got, want)
	}

	// The index table lost: appends and searches carry on.
	if _, err := s1.w.Exec(`DROP TABLE ` + searchTable); err != nil {
		t.Fatal(err)
	}
	appendTo(s1, "late six")
	if err := flushIndex(s1); err == nil {
		t.Fatal("indexing into a dropped table worked")
	}
	if got := searchIDs(t, s1, b, "late"); !reflect.DeepEqual(got, want) {
		t.Fatalf("without the table: %v, want %v", got, want)
	}
	if err := flushIndex(openQuiet(t, cfg)); err != nil {
		t.Fatal(err)
	}
	if idx, pending := indexed(t, s1); len(idx) != len(want) || pending != 0 {
		t.Fatalf("rebuild indexed %d messages, %d pending; want %d", len(idx), pending, len(want))
	}

	// A range left pending by a process that died (s1's indexer is
	// stopped) is swept by the next to start.
	appendTo(s1, "late seven")
	if _, pending := indexed(t, s1); pending != 1 {
		t.Fatalf("%d pending, want 1", pending)
	}
	s5, err := open(ctx, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s5.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, pending := indexed(t, s1); pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the range left pending was not swept")
		}
	}
	if idx, pending := indexed(t, s1); len(idx) != len(want) || pending != 0 {
		t.Fatalf("sweep indexed %d messages, %d pending; want %d", len(idx), pending, len(want))
	}
	if got := searchIDs(t, s1, b, "late"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the sweep: %v, want %v", got, want)
	}
}

// Closing a store does not wait for its indexer to work through a large
// backlog (a migration's): what is left stays pending for the next start.
func TestMroongaCloseLeavesBacklog(t *testing.T) {
	ctx := context.Background()
	cfg := mroongaConfig(t)
	old := searchBackfillBatch
	searchBackfillBatch = 1 // a range per message: many indexer steps
	defer func() { searchBackfillBatch = old }()
	noIdx := cfg
	noIdx.noSearchIndex = true
	s1, err := open(ctx, noIdx, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, _, conv := friendsConv(t, s1)
	const n = 2000
	var wg sync.WaitGroup
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/50; i++ {
				if _, _, err := s1.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: TypeText, Body: "backlog", TS: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s1.Close()
	s2, err := open(ctx, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	idx, pending := indexed(t, openQuiet(t, cfg))
	if pending == 0 {
		t.Fatalf("Close waited for the whole backlog (%d indexed)", len(idx))
	}
	if len(idx)+pending != n {
		t.Fatalf("%d indexed + %d pending, want %d", len(idx), pending, n)
	}
}

// The index finds what the exact check finds, also where a normalizer
// would change the text: combining accents, Greek and Cyrillic case.
func TestMroongaExactSubstrings(t *testing.T) {
	ctx := context.Background()
	s := openQuiet(t, mroongaConfig(t)) // every search asks the index
	a, b, conv := friendsConv(t, s)
	var ids []int64
	for _, body := range []string{"Cafe\u0301 NOIR", "ΑΘΗΝΑ и МОСКВА", "tab\there"} {
		m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: TypeText, Body: body, TS: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if err := flushIndex(s); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"cafe", ids[:1]},
		{"\u0301 n", ids[:1]},
		{"θηνα", ids[1:2]},
		{"москва", ids[1:2]},
		{"b\th", ids[2:]},
		{"b h", []int64{}},
	} {
		if got := searchIDs(t, s, b, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("search %q: %v, want %v", tc.q, got, tc.want)
		}
	}
}

// An index made with other tokenizer settings (an earlier chatd's) is
// rebuilt at start.
func TestMroongaRebuildsOtherSettings(t *testing.T) {
	ctx := context.Background()
	cfg := mroongaConfig(t)
	s := openQuiet(t, cfg)
	a, b, conv := friendsConv(t, s)
	m, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: TypeText, Body: "Cafe\u0301", TS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := flushIndex(s); err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(qCreateSearchTable, searchIndexComment, `tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "NormalizerAuto"`, 1)
	for _, q := range []string{`DROP TABLE ` + searchTable, old} {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.Exec(`INSERT INTO `+searchTable+` (id, body) VALUES (?, ?)`, m.ID, "cafe\u0301"); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, b, "cafe"); len(got) != 0 {
		t.Fatalf("the old settings find %v: this test no longer shows the rebuild", got)
	}
	s2 := openQuiet(t, cfg)
	if err := flushIndex(s2); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s2, b, "cafe"); !reflect.DeepEqual(got, []int64{m.ID}) {
		t.Fatalf("after the rebuild: %v", got)
	}
}
