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
	var d msgDest
	err := sc.Scan(d.into(&m)...)
	if err == nil {
		err = d.finish(&m)
	}
	return m, err
}

// msgDest holds what scanning msgCols needs beside a Message's fields.
type msgDest struct {
	cid      sql.NullString
	mentions string
	all      int
	dest     [msgColCount]any
}

// into returns the Scan destinations of msgCols, in order, for m.
func (d *msgDest) into(m *Message) []any {
	d.dest = [msgColCount]any{&m.ID, &m.Conv, &m.Seq, &m.From, &m.TS, &m.Type, &m.Body, &d.cid, &d.mentions, &d.all, &m.ReplyTo}
	return d.dest[:]
}

// finish sets the fields of m that need converting after the Scan (all of
// them, so one Message can be scanned into row after row).
func (d *msgDest) finish(m *Message) error {
	m.ClientMsgID = d.cid.String
	m.MentionAll = d.all != 0
	m.Mentions = nil
	if d.mentions != "" {
		var err error
		m.Mentions, err = decodeIDs(d.mentions)
		return err
	}
	return nil
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
		ci   ConvInfo
		ts   int64
		last Message
	}
	var list []row
	// One row scanned into and copied out: the destinations are built once.
	var r row
	var d msgDest
	dest := append([]any{&r.ci.Conv, &r.ci.LastSeq, &r.ts, &r.ci.AckSeq, &r.ci.ReadSeq, &r.ci.MentionSeq}, d.into(&r.last)...)
	for rows.Next() {
		err := rows.Scan(dest...)
		if err == nil {
			err = d.finish(&r.last)
		}
		if err != nil {
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
	out := make([]ConvInfo, 0, len(list))
	for i := range list {
		r := &list[i]
		if r.last.ID != 0 {
			r.ci.Last = &r.last
		}
		out = append(out, r.ci)
	}
	return out, nil
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
