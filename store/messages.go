package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// msgCols are the columns a message is written and read with (a
// recalled message's type and body are rewritten in place, so reads need
// no more); msgColCount of them, msgPlaceholders marks one row.
const (
	msgCols         = `id, conv, seq, from_id, ts, type, body, client_msg_id, mentions, mention_all, reply_to`
	msgColCount     = 11
	msgPlaceholders = `?,?,?,?,?,?,?,?,?,?,?`
)

// appendMsgArgs appends m's values in msgCols order.
func appendMsgArgs(args []any, m *Message) []any {
	all := 0
	if m.MentionAll {
		all = 1
	}
	return append(args, m.ID, m.Conv, m.Seq, m.From, m.TS, m.Type, m.Body, nullIfEmpty(m.ClientMsgID),
		encodeIDs(m.Mentions), all, m.ReplyTo)
}

// insertMessages is an INSERT of n messages.
func insertMessages(n int) string {
	return `INSERT INTO messages (` + msgCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat("("+msgPlaceholders+"),", n), ",")
}

func scanMessage(sc interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var cid sql.NullString
	var mentions string
	var all int
	err := sc.Scan(&m.ID, &m.Conv, &m.Seq, &m.From, &m.TS, &m.Type, &m.Body, &cid, &mentions, &all, &m.ReplyTo)
	m.ClientMsgID = cid.String
	m.MentionAll = all != 0
	if err == nil && mentions != "" {
		m.Mentions, err = decodeIDs(mentions)
	}
	return m, err
}

// encodeIDs stores a list of ids as decimal text, comma-separated.
func encodeIDs(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	b := make([]byte, 0, 8*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}

func decodeIDs(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("stored id list %q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

func (s *sqlStore) Message(ctx context.Context, msgID int64) (Message, error) {
	m, err := scanMessage(s.reads.queryRow(ctx, qMessageByID, msgID))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("store: message %d: %w", msgID, ErrNotFound)
	}
	if err != nil {
		return Message{}, fail("read message", err)
	}
	return m, nil
}

func (s *sqlStore) Messages(ctx context.Context, conv string, afterSeq int64, limit int) ([]Message, error) {
	rows, err := s.reads.query(ctx, qMessagesAfter, conv, afterSeq, bound(limit))
	if err != nil {
		return nil, fail("read messages", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fail("read messages", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("read messages", err)
	}
	return out, nil
}

func (s *sqlStore) Conversations(ctx context.Context, userID int64, limit int) ([]ConvInfo, error) {
	rows, err := s.reads.query(ctx, qConversations, userID, userID, bound(limit))
	if err != nil {
		return nil, fail("read conversations", err)
	}
	type row struct {
		ci ConvInfo
		ts int64
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ci.Conv, &r.ci.LastSeq, &r.ts, &r.ci.AckSeq, &r.ci.ReadSeq, &r.ci.MentionSeq); err != nil {
			rows.Close()
			return nil, fail("read conversations", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("read conversations", err)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].ts > list[j].ts })
	// The last messages: (conv, seq) points on the unique key, many per query.
	last := map[string]*Message{}
	var args []any
	for _, r := range list {
		if r.ci.LastSeq > 0 {
			args = append(args, r.ci.Conv, r.ci.LastSeq)
		}
	}
	for start := 0; start < len(args); start += 400 {
		rows, err := s.lastMessages(ctx, args[start:min(start+400, len(args))])
		if err != nil {
			return nil, fail("read last messages", err)
		}
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				rows.Close()
				return nil, fail("read last messages", err)
			}
			last[m.Conv] = &m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fail("read last messages", err)
		}
	}
	out := make([]ConvInfo, 0, len(list))
	for _, r := range list {
		if m := last[r.ci.Conv]; m != nil && m.Seq == r.ci.LastSeq {
			r.ci.Last = m
		}
		out = append(out, r.ci)
	}
	return out, nil
}

// lastMessages runs qLastMessages for args (conv, seq, conv, seq, ...). On
// SQLite it pads the pairs to a power of two by repeating the last one (a
// repeated OR term matches no more rows), so the few texts this makes are
// prepared once; MySQL runs the exact text.
func (s *sqlStore) lastMessages(ctx context.Context, args []any) (*sql.Rows, error) {
	n := len(args) / 2
	if !s.reads.prepare {
		return s.r.QueryContext(ctx, fmt.Sprintf(qLastMessages, msgPairs(n)), args...)
	}
	padded := 1
	for padded < n {
		padded *= 2
	}
	p := make([]any, 0, 2*padded)
	p = append(p, args...)
	for len(p) < 2*padded {
		p = append(p, args[len(args)-2:]...)
	}
	return s.reads.query(ctx, fmt.Sprintf(qLastMessages, msgPairs(padded)), p...)
}

// msgPairs returns n "(conv = ? AND seq = ?)" joined by OR.
func msgPairs(n int) string {
	return strings.TrimSuffix(strings.Repeat("(conv = ? AND seq = ?) OR ", n), " OR ")
}

func (s *sqlStore) Ack(ctx context.Context, userID int64, conv string, seq int64) error {
	return s.moveCursor(ctx, "ack_seq", userID, conv, seq)
}

func (s *sqlStore) MarkRead(ctx context.Context, userID int64, conv string, seq int64) error {
	return s.moveCursor(ctx, "read_seq", userID, conv, seq)
}

// moveCursor moves a cursor forward only (the WHERE keeps it monotonic
// against concurrent moves) and never past the conversation's last seq, in
// one statement; only when nothing moved does it look at membership.
func (s *sqlStore) moveCursor(ctx context.Context, col string, userID int64, conv string, seq int64) error {
	res, err := s.writes.exec(ctx, fmt.Sprintf(qMoveCursor, col, s.d.min), seq, conv, userID, conv, seq, conv)
	if err != nil {
		return fail("move "+col, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	ok, err := s.IsConvMember(ctx, userID, conv)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: %s of %d in %s: %w", col, userID, conv, ErrNotFound)
	}
	return nil
}
