package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// The MySQL/MariaDB substring index. InnoDB's FULLTEXT has no n-gram
// parser on MariaDB, so the store keeps its own: message_grams holds a
// row (gram, msg_id, conv) for each distinct 1-, 2- and 3-character gram
// of a text message's case-folded body. A query of one or two characters
// is one gram; a longer one is the intersection of its trigrams. Grams
// are written with the message, in its batch's transaction, and deleted
// by its recall.

// gramRows caps the rows of one gram INSERT (three arguments each).
const gramRows = 2000

// maxQueryGrams caps the trigrams a search intersects: the rarest few
// leave few candidates, and the body check does the rest.
const maxQueryGrams = 6

// maxEstimatedGrams caps the trigrams of a long query whose frequencies
// are estimated to find the rarest.
const maxEstimatedGrams = 24

// foldRune is the case folding both sides of the index use: MySQL's
// LOWER() and Go's strings.ToLower agree with it rune by rune.
func foldRune(r rune) rune { return unicode.ToLower(r) }

// packGram packs up to three folded characters into one positive int64:
// 21 bits each, a character stored plus one so that 0 marks a missing
// one ("x" is (x+1)<<42, "xy" adds (y+1)<<21). Distinct grams pack to
// distinct values.
func packGram(rs ...rune) int64 {
	var g int64
	for i := 0; i < 3; i++ {
		g <<= 21
		if i < len(rs) {
			g |= int64(rs[i]) + 1
		}
	}
	return g
}

// bodyGrams returns the distinct grams of a body: every character, pair
// and triple of consecutive characters, case folded.
func bodyGrams(body string) []int64 {
	rs := make([]rune, 0, len(body))
	for _, r := range body {
		rs = append(rs, foldRune(r))
	}
	out := make([]int64, 0, 3*len(rs))
	for i := range rs {
		out = append(out, packGram(rs[i]))
		if i+1 < len(rs) {
			out = append(out, packGram(rs[i], rs[i+1]))
		}
		if i+2 < len(rs) {
			out = append(out, packGram(rs[i], rs[i+1], rs[i+2]))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// queryGrams returns the grams every body containing q holds: q itself
// when one or two characters long, else q's distinct trigrams, at most
// maxEstimatedGrams of them taken evenly along q (the first and the last
// always).
func queryGrams(q string) []int64 {
	rs := make([]rune, 0, len(q))
	for _, r := range q {
		rs = append(rs, foldRune(r))
	}
	if len(rs) <= 2 {
		return []int64{packGram(rs...)}
	}
	n := len(rs) - 2
	var out []int64
	for k := 0; k < min(n, maxEstimatedGrams); k++ {
		i := k
		if n > maxEstimatedGrams {
			i = k * (n - 1) / (maxEstimatedGrams - 1)
		}
		g := packGram(rs[i], rs[i+1], rs[i+2])
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// insertGrams indexes the text messages among rows in message_grams, in
// multi-row INSERTs (one for a typical batch).
func insertGrams(ctx context.Context, q querier, rows []*Message) error {
	args := make([]any, 0, 3*gramRows)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := q.ExecContext(ctx, `INSERT INTO message_grams (gram, msg_id, conv) VALUES `+placeholderRows(3, len(args)/3), args...)
		args = args[:0]
		return err
	}
	for _, m := range rows {
		if m.Type != TypeText {
			continue
		}
		for _, g := range bodyGrams(m.Body) {
			args = append(args, g, m.ID, m.Conv)
			if len(args) == 3*gramRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// deleteGrams removes the index rows of a text message about to lose its
// body (a recall).
func deleteGrams(ctx context.Context, q querier, id int64, body string) error {
	gs := bodyGrams(body)
	for len(gs) > 0 {
		part := gs[:min(len(gs), gramRows)]
		gs = gs[len(part):]
		args := make([]any, 0, len(part)+1)
		args = append(args, id)
		for _, g := range part {
			args = append(args, g)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM message_grams WHERE msg_id = ? AND gram IN (`+placeholders(len(part))+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// backfillGrams indexes the text messages written before message_grams
// existed, a page of messages at a time in id order, each page's rows
// inserted in key order (neighbouring rows land in the same index pages).
// It can be run again after an interruption: rows already there are
// skipped.
func backfillGrams(ctx context.Context, q querier) error {
	const page = 10000
	after := int64(0)
	for {
		rows, err := q.QueryContext(ctx, `SELECT id, conv, body FROM messages WHERE id > ? AND type = 'text' ORDER BY id LIMIT ?`, after, page)
		if err != nil {
			return fmt.Errorf("read messages after %d: %w", after, err)
		}
		var ms []*Message
		for rows.Next() {
			m := &Message{Type: TypeText}
			if err := rows.Scan(&m.ID, &m.Conv, &m.Body); err != nil {
				rows.Close()
				return fmt.Errorf("read messages after %d: %w", after, err)
			}
			ms = append(ms, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read messages after %d: %w", after, err)
		}
		if len(ms) == 0 {
			return nil
		}
		if err := insertSortedGrams(ctx, q, ms); err != nil {
			return fmt.Errorf("index messages after %d: %w", after, err)
		}
		after = ms[len(ms)-1].ID
	}
}

// gramSearch is the MySQL search: the query's rarest gram (by the
// optimizer's estimate of its rows) drives, walked by msg_id descending
// from its index range; each candidate is kept when its conversation is
// the user's (or the one asked), the next rarest grams hold it too
// (primary-key probes, at most maxQueryGrams in all) and its body holds
// the query. The walk stops at the page's end. It returns the statement
// and its arguments but the limit's.
func (s *sqlStore) gramSearch(ctx context.Context, q SearchQuery, before int64) (string, []any, error) {
	gs := queryGrams(q.Query)
	if len(gs) > 1 {
		if err := s.rarestFirst(ctx, gs); err != nil {
			return "", nil, err
		}
		gs = gs[:min(len(gs), maxQueryGrams)]
	}
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT STRAIGHT_JOIN ` + msgColsM + ` FROM message_grams g0`)
	if !q.Conv.Valid() {
		b.WriteString(` JOIN conv_members cm ON cm.user_id = ? AND cm.conv = g0.conv`)
		args = append(args, q.User)
	}
	for i := range gs[1:] {
		fmt.Fprintf(&b, ` JOIN message_grams g%[1]d ON g%[1]d.gram = ? AND g%[1]d.msg_id = g0.msg_id`, i+1)
		args = append(args, gs[i+1])
	}
	cond, cargs := s.d.containsFold("m.body", q.Query)
	b.WriteString(` JOIN messages m ON m.id = g0.msg_id WHERE g0.gram = ? AND g0.msg_id < ?`)
	args = append(args, gs[0], before)
	if q.Conv.Valid() {
		b.WriteString(` AND g0.conv = ?`)
		args = append(args, q.Conv.String())
	}
	b.WriteString(` AND m.type = 'text' AND ` + cond + ` ORDER BY g0.msg_id DESC LIMIT ?`)
	args = append(args, cargs...)
	return b.String(), args, nil
}

// rarestFirst sorts gs by the number of rows each has, rarest first, as
// the optimizer estimates them from the index (a few page reads each,
// where counting a common gram's rows would read thousands): one EXPLAIN
// of a UNION of one lookup per gram, whose rows are numbered by id.
func (s *sqlStore) rarestFirst(ctx context.Context, gs []int64) error {
	parts := make([]string, len(gs))
	args := make([]any, len(gs))
	for i, g := range gs {
		parts[i] = `SELECT msg_id FROM message_grams WHERE gram = ?`
		args[i] = g
	}
	rows, err := s.r.QueryContext(ctx, `EXPLAIN `+strings.Join(parts, ` UNION ALL `), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	idCol, rowsCol := slices.Index(cols, "id"), slices.Index(cols, "rows")
	if idCol < 0 || rowsCol < 0 {
		return fmt.Errorf("EXPLAIN has no id or rows column: %v", cols)
	}
	est := make([]int64, len(gs))
	vals := make([]sql.NullInt64, len(cols))
	ptrs := make([]any, len(cols))
	for i := range cols {
		if i == idCol || i == rowsCol {
			ptrs[i] = &vals[i]
		} else {
			ptrs[i] = new(sql.RawBytes)
		}
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if id := vals[idCol].Int64; vals[idCol].Valid && id >= 1 && int(id) <= len(gs) {
			est[id-1] = vals[rowsCol].Int64
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	idx := make([]int, len(gs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(est[a], est[b]) })
	sorted := make([]int64, len(gs))
	for i, k := range idx {
		sorted[i] = gs[k]
	}
	copy(gs, sorted)
	return nil
}

// insertSortedGrams indexes text messages like insertGrams, ignoring rows
// already there, in (gram, msg_id) order.
func insertSortedGrams(ctx context.Context, q querier, ms []*Message) error {
	type row struct {
		gram, id int64
		conv     string
	}
	var all []row
	for _, m := range ms {
		for _, g := range bodyGrams(m.Body) {
			all = append(all, row{g, m.ID, m.Conv})
		}
	}
	slices.SortFunc(all, func(a, b row) int {
		if a.gram != b.gram {
			return cmp.Compare(a.gram, b.gram)
		}
		return cmp.Compare(a.id, b.id)
	})
	args := make([]any, 0, 3*gramRows)
	for start := 0; start < len(all); start += gramRows {
		args = args[:0]
		for _, r := range all[start:min(start+gramRows, len(all))] {
			args = append(args, r.gram, r.id, r.conv)
		}
		if _, err := q.ExecContext(ctx, `INSERT IGNORE INTO message_grams (gram, msg_id, conv) VALUES `+placeholderRows(3, len(args)/3), args...); err != nil {
			return err
		}
	}
	return nil
}
