package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
)

// minIndexedRunes is the shortest query the SQLite trigram index answers.
const minIndexedRunes = 3

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("chatd_short_grams", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return shortGrams(s), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("chatd_contains_fold", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		sub, _ := args[1].(string)
		if strings.Contains(foldCase(s), foldCase(sub)) {
			return int64(1), nil
		}
		return int64(0), nil
	})
}

// foldCase maps every letter of s to one spelling of its case (the least
// rune of its Unicode simple-folding orbit), as the trigram indexes fold:
// chatd_contains_fold(body, q) finds q in body ignoring case, for the
// messages the indexes do not hold yet (searchTail).
func foldCase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// shortGrams is the text messages_trgm_short indexes for body s: for each
// distinct character x the trigram "xxx" and for each distinct pair xy
// the trigram "xyy", separated by newlines. "x" holds x, and "xy" holds
// xy, exactly when the grams hold its token (shortToken). The trigrams
// that span a separator match no query token but one holding a newline,
// and every candidate is checked against the body anyway.
func shortGrams(s string) string {
	// A gram is known by its two runes (x, x for "xxx"); SQLite calls
	// this for every text message stored, so no string per gram.
	seen := make(map[uint64]struct{}, 2*len(s))
	var b strings.Builder
	b.Grow(8 * len(s))
	add := func(x, y rune) {
		k := uint64(uint32(x))<<32 | uint64(uint32(y))
		if _, dup := seen[k]; dup {
			return
		}
		seen[k] = struct{}{}
		b.WriteRune(x)
		b.WriteRune(y)
		b.WriteRune(y)
		b.WriteByte('\n')
	}
	var prev rune = -1
	for _, r := range s {
		add(r, r)
		if prev >= 0 && prev != r {
			add(prev, r)
		}
		prev = r
	}
	return b.String()
}

// SearchMessages finds text messages by substring. On SQLite every query
// is answered from a trigram index walked by msg id descending (rowid -id
// ascending), joined to the user's memberships and stopped at the page's
// end: messages_trgm for three characters or more (an FTS5 phrase is a
// substring match under the trigram tokenizer, case folded),
// messages_trgm_short for one or two (its candidates are checked against
// the body; see shortGrams), plus a scan by id of the messages committed
// since the indexer's last batch (ftsindex.go; the indexes live in a file
// of their own, attached to the readers as "search"). On MySQL/MariaDB the
// Mroonga index (see
// mroonga.go) gives the candidates when the server has it; without it the
// store scans the user's conversations newest first, from the (conv, seq)
// index, stopping at the page's end. (An n-gram table kept by the store
// in InnoDB served search in milliseconds but cut message writes six- to
// sevenfold, so it was left out.)
func (s *sqlStore) SearchMessages(ctx context.Context, q SearchQuery) ([]Message, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxSearchLimit)
	if q.Query == "" {
		return []Message{}, false, nil
	}
	before := q.BeforeID
	if before <= 0 {
		before = 1 << 62
	}
	out, err := s.searchRows(ctx, q, before, limit)
	if err != nil {
		return nil, false, fail("search messages", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// searchRows returns up to limit+1 matches below msg id before, newest
// first: from the Mroonga index when the MySQL server has it, else from
// the trigram tables (SQLite) or the scan (MySQL).
func (s *sqlStore) searchRows(ctx context.Context, q SearchQuery, before int64, limit int) ([]Message, error) {
	if s.d == mysqlDialect {
		if out, ok, err := s.mroongaSearch(ctx, q, before, limit); ok || err != nil {
			return out, err
		}
	}
	var text string
	var args []any
	if s.d == sqliteDialect {
		table, phrase, join, conds := "messages_trgm", q.Query, "", ""
		if utf8.RuneCountInString(q.Query) < minIndexedRunes {
			table, phrase = "messages_trgm_short", shortToken(q.Query)
		}
		if !q.Conv.Valid() {
			join = qUserConvs
			args = append(args, q.User)
		}
		args = append(args, `"`+strings.ReplaceAll(phrase, `"`, `""`)+`"`, -before)
		if q.Conv.Valid() {
			conds = " AND m.conv = ?"
			args = append(args, q.Conv.String())
		}
		if table == "messages_trgm_short" {
			cond, cargs := s.d.containsFold("m.body", q.Query)
			conds += " AND " + cond
			args = append(args, cargs...)
		}
		text = fmt.Sprintf(qSearchIndexed, table, join, conds)
	} else {
		text, args = s.scanSearch(q, before)
	}
	// The indexes hold the messages up to the mark, read before them
	// (an index batch committed since adds some of the tail twice:
	// mergeNewest keeps one).
	var mark int64
	if s.fts != nil {
		mark = s.fts.indexed.Load()
	}
	args = append(args, limit+1)
	// The texts vary with the query's case spellings: run them
	// unprepared, not through the statement cache.
	out, err := s.queryMessages(ctx, text, args...)
	if err != nil || s.fts == nil || mark >= before-1 {
		return out, err
	}
	tail, err := s.searchTail(ctx, q, mark, before, limit+1)
	if err != nil {
		return nil, err
	}
	return mergeNewest(tail, out, limit+1), nil
}

// searchTail is the SQLite search of the messages not yet indexed (ids
// above mark, below before; see ftsindex.go): at most what a fraction of a
// second of traffic adds, read by id.
func (s *sqlStore) searchTail(ctx context.Context, q SearchQuery, mark, before int64, limit int) ([]Message, error) {
	convs := `SELECT conv FROM conv_members WHERE user_id = ?`
	args := []any{mark, before, q.User}
	if q.Conv.Valid() {
		convs = `?`
		args = []any{mark, before, q.Conv.String()}
	}
	args = append(args, q.Query, limit)
	return s.queryMessages(ctx, fmt.Sprintf(qSearchTail, convs, "chatd_contains_fold(m.body, ?)"), args...)
}

// shortToken is the messages_trgm_short token of a one- or two-character
// query: "xxx" for x, "xyy" for xy. "xx" is also looked up as "xxx" (every
// body holding x): the body check then keeps only those holding xx.
func shortToken(q string) string {
	r := []rune(q)
	x := string(r[0])
	if len(r) == 1 || strings.EqualFold(x, string(r[1])) {
		return x + x + x
	}
	y := string(r[1])
	return x + y + y
}

// caseVariants returns every spelling of s that differs from it only in
// letter case (Unicode simple folding), at most max of them; false when
// there would be more.
func caseVariants(s string, max int) ([]string, bool) {
	out := []string{""}
	for _, r := range s {
		var folds []rune
		for f := r; ; {
			folds = append(folds, f)
			if f = unicode.SimpleFold(f); f == r {
				break
			}
		}
		if len(out)*len(folds) > max {
			return nil, false
		}
		next := make([]string, 0, len(out)*len(folds))
		for _, p := range out {
			for _, f := range folds {
				next = append(next, p+string(f))
			}
		}
		out = next
	}
	return out, true
}

// scanSearch is the MySQL search without an index: the query text and
// its arguments but the limit.
func (s *sqlStore) scanSearch(q SearchQuery, before int64) (string, []any) {
	cond, cargs := s.d.containsFold("m.body", q.Query)
	convs := `SELECT conv FROM conv_members WHERE user_id = ?`
	args := []any{q.User}
	if q.Conv.Valid() {
		convs = `?`
		args = []any{q.Conv.String()}
	}
	args = append(args, before)
	return fmt.Sprintf(qSearchScan, convs, cond), append(args, cargs...)
}

// queryMessages runs a query of messages (msgCols) unprepared.
func (s *sqlStore) queryMessages(ctx context.Context, text string, args ...any) ([]Message, error) {
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// defaultSearchWindow is how many of the newest message ids (below the page's
// start) a MySQL search scans before it asks the index. A query common
// enough to fill a page there would cost the index more (Mroonga collects
// and sorts every hit, however many); a rarer one costs the scan no more
// than this.
const defaultSearchWindow = 4000

// mroongaSearch is the MySQL search with the Mroonga index (see
// mroonga.go): the newest window ids scanned (defaultSearchWindow), then the index below
// them. It returns up to limit+1 messages; ok is false when the index
// cannot answer q now (the caller scans).
func (s *sqlStore) mroongaSearch(ctx context.Context, q SearchQuery, before int64, limit int) ([]Message, bool, error) {
	phrase, ok := mroongaPhrase(q.Query)
	if !ok {
		return nil, false, nil
	}
	ready, ranges, err := s.searchPlan(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("msg.search index: state unreadable; scanning")
		return nil, false, nil
	}
	if !ready {
		if !s.search.warned.Swap(true) && s.search.on.Load() {
			s.log.Warn().Int("pending_ranges", len(ranges)).Msg("msg.search index is incomplete (a chatd without Mroonga wrote to this database, or the indexer is far behind): searches scan until it is complete")
		}
		return nil, false, nil
	}
	join, conds := "", ""
	var pre, condArgs []any
	if !q.Conv.Valid() {
		join = qUserConvsMy
		pre = []any{q.User}
	}
	if q.Conv.Valid() {
		conds = " AND m.conv = ?"
		condArgs = []any{q.Conv.String()}
	}
	cond, cargs := s.d.containsFold("m.body", q.Query)
	conds += " AND " + cond
	condArgs = append(condArgs, cargs...)

	// 1. The window: ids lo..before-1.
	top := before - 1
	if before >= 1<<62 {
		var maxID sql.NullInt64
		if err := s.r.QueryRowContext(ctx, `SELECT MAX(id) FROM messages`).Scan(&maxID); err != nil {
			return nil, true, err
		}
		top = maxID.Int64
	}
	lo := max(top-s.searchWindow+1, 0)
	args := append([]any{}, pre...)
	args = append(args, lo, before)
	args = append(args, condArgs...)
	args = append(args, limit+1)
	out, err := s.queryMessages(ctx, fmt.Sprintf(qSearchWindow, join, conds), args...)
	if err != nil || len(out) > limit || lo == 0 {
		return out, true, err
	}

	// 2. Below the window: the index's candidates, newest first, a
	// chunk at a time (Mroonga sorts them itself when asked for ids
	// alone), checked against the messages; and the pending ranges read
	// before the index.
	older, err := s.mroongaCandidates(ctx, phrase, lo, limit, join, conds, pre, condArgs)
	if err != nil && ctx.Err() == nil {
		// The index is unusable (its table lost, say): answer anyway.
		s.log.Warn().Err(err).Msg("msg.search index query failed; scanning")
		text, sargs := s.scanSearch(q, lo)
		older, err = s.queryMessages(ctx, text, append(sargs, limit+1)...)
		return append(out, older...), true, err
	}
	if err != nil {
		return nil, true, err
	}
	if len(ranges) > 0 {
		between := strings.TrimSuffix(strings.Repeat("m.id BETWEEN ? AND ? OR ", len(ranges)), " OR ")
		args = append(args[:0], pre...)
		for _, r := range ranges {
			args = append(args, r.first, r.last)
		}
		args = append(args, lo)
		args = append(args, condArgs...)
		args = append(args, limit+1)
		pending, err := s.queryMessages(ctx, fmt.Sprintf(qSearchPending, join, conds, between), args...)
		if err != nil {
			return nil, true, err
		}
		older = mergeNewest(older, pending, limit+1)
	}
	return append(out, older...), true, nil
}

// defaultSearchChunk is how many index candidates a search checks at a
// time.
const defaultSearchChunk = 500

// mroongaCandidates returns the newest limit+1 text messages below before
// whose ids the index gives for phrase and which pass the conditions.
func (s *sqlStore) mroongaCandidates(ctx context.Context, phrase string, before int64, limit int, join, conds string, pre, condArgs []any) ([]Message, error) {
	out := []Message{}
	for {
		rows, err := s.r.QueryContext(ctx, qSearchCandidates, phrase, before, s.searchChunk)
		if err != nil {
			return nil, err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
			before = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return out, nil
		}
		args := append([]any{}, pre...)
		args = append(args, ids...)
		args = append(args, condArgs...)
		args = append(args, limit+1-len(out))
		got, err := s.queryMessages(ctx, fmt.Sprintf(qSearchCheck, join, placeholders(len(ids)), conds), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		if len(out) > limit || len(ids) < s.searchChunk {
			return out, nil
		}
	}
}

// mergeNewest merges two lists of messages ordered by id descending into
// the newest n, without repeats.
func mergeNewest(a, b []Message, n int) []Message {
	out := make([]Message, 0, min(len(a)+len(b), n))
	for len(out) < n && (len(a) > 0 || len(b) > 0) {
		var m Message
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].ID > b[0].ID):
			m, a = a[0], a[1:]
		case len(a) == 0 || b[0].ID > a[0].ID:
			m, b = b[0], b[1:]
		default: // the same message in both
			m, a, b = a[0], a[1:], b[1:]
		}
		out = append(out, m)
	}
	return out
}
