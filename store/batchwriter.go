package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// batchWriter runs the statements of one group-commit transaction. Two
// strategies, one per backend: MySQL pays a network round trip per
// statement, so it sends many rows per statement; SQLite runs in process,
// where parsing a many-row statement each time costs more than running
// statements prepared once (64-row blocks, then single rows).
type batchWriter interface {
	// lockConvs locks the conversations (sorted) and records their last seq.
	lockConvs(convs []string, lastSeq map[string]int64) error
	// findKeys records the stored messages under the idempotency keys.
	findKeys(keys []idemKey, into map[idemKey]Message) error
	insert(rows []*Message) error
	advanceConvs(adv []convAdvance) error
	advanceCursors(moves []cursorMove) error
	close()
}

type convAdvance struct {
	conv    string
	lastSeq int64
	lastTS  int64
}

type cursorMove struct {
	k        userConv
	from, to int64
}

type userConv struct {
	user int64
	conv string
}

type idemKey struct {
	from int64
	cid  string
}

func (s *sqlStore) batchWriter(ctx context.Context, tx *sql.Tx) batchWriter {
	if s.prep != nil {
		return &perRowWriter{ctx: ctx, tx: tx, p: s.prep}
	}
	return &multiRowWriter{ctx: ctx, tx: tx, d: s.d}
}

// ---- many rows per statement (MySQL) ----

type multiRowWriter struct {
	ctx context.Context
	tx  *sql.Tx
	d   *dialect
}

func (w *multiRowWriter) close() {}

func strArgs(a []string) []any {
	out := make([]any, len(a))
	for i, v := range a {
		out[i] = v
	}
	return out
}

func (w *multiRowWriter) lockConvs(convs []string, lastSeq map[string]int64) error {
	for _, part := range chunks(strArgs(convs), 500) {
		rows, err := w.tx.QueryContext(w.ctx, fmt.Sprintf(qLockConvs, placeholders(len(part)))+w.d.forUpdate, part...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var last int64
			if err := rows.Scan(&id, &last); err != nil {
				rows.Close()
				return err
			}
			lastSeq[id] = last
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (w *multiRowWriter) findKeys(keys []idemKey, into map[idemKey]Message) error {
	cids := make([]any, len(keys))
	for i, k := range keys {
		cids[i] = k.cid
	}
	for _, part := range chunks(cids, 500) {
		rows, err := w.tx.QueryContext(w.ctx, fmt.Sprintf(qIdemKeys, placeholders(len(part))), part...)
		if err := collectKeyed(rows, err, into); err != nil {
			return err
		}
	}
	return nil
}

// collectKeyed adds the messages of an idempotency-key query to into, keyed
// by (sender, client_msg_id), and closes rows. qerr is the query's error.
func collectKeyed(rows *sql.Rows, qerr error, into map[idemKey]Message) error {
	if qerr != nil {
		return qerr
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return err
		}
		into[idemKey{m.From, m.ClientMsgID}] = m
	}
	return rows.Err()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// maxInsertBytes keeps one multi-row INSERT well below MariaDB's default
// max_allowed_packet (16 MiB) whatever the message sizes.
const maxInsertBytes = 4 << 20

func (w *multiRowWriter) insert(rows []*Message) error {
	for start := 0; start < len(rows); {
		end, size := start, 0
		for end < len(rows) && end-start < 200 && (end == start || size+len(rows[end].Body) <= maxInsertBytes) {
			size += len(rows[end].Body) + 128
			end++
		}
		part := rows[start:end]
		start = end
		args := make([]any, 0, msgColCount*len(part))
		for _, m := range part {
			args = appendMsgArgs(args, m)
		}
		q := insertMessages(len(part))
		if _, err := w.tx.ExecContext(w.ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

func (w *multiRowWriter) advanceConvs(adv []convAdvance) error {
	for start := 0; start < len(adv); start += 300 {
		part := adv[start:min(start+300, len(adv))]
		args := make([]any, 0, 3*len(part))
		for _, a := range part {
			args = append(args, a.conv, a.lastSeq, a.lastTS)
		}
		q := `INSERT INTO conversations (id, last_seq, last_ts) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?),", len(part)), ",") +
			w.d.upsert("id", "last_seq = NEW(last_seq)", "last_ts = "+w.d.max+"(last_ts, NEW(last_ts))")
		if _, err := w.tx.ExecContext(w.ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

func (w *multiRowWriter) advanceCursors(moves []cursorMove) error {
	for start := 0; start < len(moves); start += 150 {
		part := moves[start:min(start+150, len(moves))]
		args := make([]any, 0, 4*len(part))
		for _, m := range part {
			args = append(args, m.k.user, m.k.conv, m.from, m.to)
		}
		if _, err := w.tx.ExecContext(w.ctx, cursorUpdate(len(part)), args...); err != nil {
			return err
		}
	}
	return nil
}

// cursorUpdate is qCursors for n moves: a derived table of (user, conv,
// from, to) rows joined on the primary key.
func cursorUpdate(n int) string {
	rows := "SELECT ? AS u, ? AS c, ? AS f, ? AS t" + strings.Repeat(" UNION ALL SELECT ?, ?, ?, ?", n-1)
	return fmt.Sprintf(qCursors, rows)
}

func chunks(a []any, n int) [][]any {
	var out [][]any
	for len(a) > 0 {
		k := min(n, len(a))
		out = append(out, a[:k])
		a = a[k:]
	}
	return out
}

// ---- one prepared row statement per row (SQLite) ----

// prepared holds the statements of the SQLite batch, prepared once on the
// writer connection: one-row statements, plus block statements that insert
// or look up blockRows rows at once (fewer calls into the driver for big
// batches, still nothing to parse).
type prepared struct {
	lockConv, findKey, insert, advanceConv, advanceCursor *sql.Stmt
	insertBlock, findKeyBlock                             *sql.Stmt
}

// blockRows is the row count of the block statements.
const blockRows = 64

func prepare(ctx context.Context, db *sql.DB) (*prepared, error) {
	p := &prepared{}
	for _, x := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&p.lockConv, qLockConv},
		{&p.findKey, qFindKey},
		{&p.insert, qInsertMessage},
		{&p.advanceConv, qAdvanceConv},
		{&p.advanceCursor, qAdvanceCursor},
		{&p.insertBlock, insertMessages(blockRows)},
		{&p.findKeyBlock, fmt.Sprintf(qIdemKeys, placeholders(blockRows))},
	} {
		st, err := db.PrepareContext(ctx, x.q)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("prepare %q: %w", x.q, err)
		}
		*x.dst = st
	}
	return p, nil
}

func (p *prepared) close() {
	for _, st := range []*sql.Stmt{p.lockConv, p.findKey, p.insert, p.advanceConv, p.advanceCursor, p.insertBlock, p.findKeyBlock} {
		if st != nil {
			st.Close()
		}
	}
}

type perRowWriter struct {
	ctx  context.Context
	tx   *sql.Tx
	p    *prepared
	open []*sql.Stmt // transaction-bound statements to close
}

// stmt binds a prepared statement to the transaction (on SQLite's one
// writer connection, the existing preparation is reused).
func (w *perRowWriter) stmt(st *sql.Stmt) *sql.Stmt {
	ts := w.tx.StmtContext(w.ctx, st)
	w.open = append(w.open, ts)
	return ts
}

func (w *perRowWriter) close() {
	for _, st := range w.open {
		st.Close()
	}
}

func (w *perRowWriter) lockConvs(convs []string, lastSeq map[string]int64) error {
	st := w.stmt(w.p.lockConv)
	for _, cv := range convs {
		var last int64
		err := st.QueryRowContext(w.ctx, cv).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		lastSeq[cv] = last
	}
	return nil
}

func (w *perRowWriter) findKeys(keys []idemKey, into map[idemKey]Message) error {
	if len(keys) == 0 {
		return nil
	}
	if len(keys) >= blockRows {
		bst := w.stmt(w.p.findKeyBlock)
		for len(keys) >= blockRows {
			args := make([]any, blockRows)
			for i, k := range keys[:blockRows] {
				args[i] = k.cid
			}
			keys = keys[blockRows:]
			rows, err := bst.QueryContext(w.ctx, args...)
			if err := collectKeyed(rows, err, into); err != nil {
				return err
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	st := w.stmt(w.p.findKey)
	for _, k := range keys {
		m, err := scanMessage(st.QueryRowContext(w.ctx, k.cid, k.from))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		into[k] = m
	}
	return nil
}

func (w *perRowWriter) insert(rows []*Message) error {
	if len(rows) >= blockRows {
		bst := w.stmt(w.p.insertBlock)
		for len(rows) >= blockRows {
			args := make([]any, 0, msgColCount*blockRows)
			for _, m := range rows[:blockRows] {
				args = appendMsgArgs(args, m)
			}
			rows = rows[blockRows:]
			if _, err := bst.ExecContext(w.ctx, args...); err != nil {
				return err
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	st := w.stmt(w.p.insert)
	for _, m := range rows {
		if _, err := st.ExecContext(w.ctx, appendMsgArgs(make([]any, 0, msgColCount), m)...); err != nil {
			return err
		}
	}
	return nil
}

func (w *perRowWriter) advanceConvs(adv []convAdvance) error {
	st := w.stmt(w.p.advanceConv)
	for _, a := range adv {
		if _, err := st.ExecContext(w.ctx, a.lastSeq, a.lastTS, a.conv); err != nil {
			return err
		}
	}
	return nil
}

func (w *perRowWriter) advanceCursors(moves []cursorMove) error {
	st := w.stmt(w.p.advanceCursor)
	for _, m := range moves {
		if _, err := st.ExecContext(w.ctx, m.to, m.k.user, m.k.conv, m.from); err != nil {
			return err
		}
	}
	return nil
}
