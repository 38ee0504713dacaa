package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/chatd/chatd/protocol"
)

// convSeq names one message by its place.
type convSeq struct {
	conv string
	seq  int64
}

// recallTarget is what a recall needs to know of the message it recalls.
type recallTarget struct {
	id        int64
	typ       string
	recallSeq int64 // 0 while not recalled
	fileID    int64 // the file of a file message, else 0
}

// recallMark is one recall to apply in a batch: target recalled by the
// message at recallSeq.
type recallMark struct {
	target    convSeq
	id        int64 // the target's msg id
	recallSeq int64
	fileID    int64
}

// recallTargets reads the targets of the batch's recalls. Recalls are
// rare, so this is a plain statement per recall, on either backend.
func (c *committer) recallTargets(ctx context.Context, tx *sql.Tx, batch []*appendReq) (map[convSeq]recallTarget, error) {
	var out map[convSeq]recallTarget
	for _, r := range batch {
		if r.recall <= 0 {
			continue
		}
		k := convSeq{r.m.Conv, r.recall}
		if _, ok := out[k]; ok {
			continue
		}
		var t recallTarget
		var body string
		err := tx.QueryRowContext(ctx, `SELECT id, type, recall_seq, body FROM messages WHERE conv = ? AND seq = ?`, k.conv, k.seq).
			Scan(&t.id, &t.typ, &t.recallSeq, &body)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if t.typ == TypeFile {
			t.fileID, _ = strconv.ParseInt(body, 10, 64)
		}
		if out == nil {
			out = map[convSeq]recallTarget{}
		}
		out[k] = t
	}
	return out, nil
}

// markRecalled rewrites recalled messages in place (type "recalled", body
// "": the text is gone, and the search index drops it), drops their
// mentions and marks a recalled file.
func (c *committer) markRecalled(ctx context.Context, tx *sql.Tx, marks []recallMark) error {
	for _, m := range marks {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET type = ?, body = '', recall_seq = ? WHERE conv = ? AND seq = ?`,
			TypeRecalled, m.recallSeq, m.target.conv, m.target.seq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_mentions WHERE conv = ? AND seq = ?`, m.target.conv, m.target.seq); err != nil {
			return err
		}
		if m.fileID > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE files SET recalled = 1 WHERE id = ? AND conv = ?`, m.fileID, m.target.conv); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertMentions indexes the mentions of new messages in message_mentions
// (user 0 for mention_all). Most messages mention nobody and cost nothing
// here.
func (c *committer) insertMentions(ctx context.Context, tx *sql.Tx, rows []*Message) error {
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		q := c.s.d.insertIgnore + ` INTO message_mentions (conv, user_id, seq, from_id) VALUES ` +
			placeholderRows(4, len(args)/4)
		_, err := tx.ExecContext(ctx, q, args...)
		args = args[:0]
		return err
	}
	for _, m := range rows {
		if m.MentionAll {
			args = append(args, m.Conv, 0, m.Seq, m.From)
		}
		for _, u := range m.Mentions {
			args = append(args, m.Conv, u, m.Seq, m.From)
		}
		if len(args) >= 4*400 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (s *sqlStore) RecallMessage(ctx context.Context, conv protocol.ConvID, seq, by int64, ts int64) (Message, error) {
	if seq <= 0 {
		return Message{}, fmt.Errorf("store: recall %s/%d: %w", conv, seq, ErrNotFound)
	}
	res := s.c.append(ctx, NewMessage{Conv: conv.String(), From: by, Type: TypeRecall, Body: strconv.FormatInt(seq, 10), TS: ts}, seq)
	if errors.Is(res.err, ErrAlreadyRecalled) {
		m, err := s.MessageAt(ctx, conv, res.recalledBy)
		if err != nil {
			return Message{}, err
		}
		return m, res.err
	}
	return res.msg, res.err
}

func (s *sqlStore) MessageAt(ctx context.Context, conv protocol.ConvID, seq int64) (Message, error) {
	m, err := scanMessage(s.reads.queryRow(ctx, qMessageAt, conv.String(), seq))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("store: message %s/%d: %w", conv, seq, ErrNotFound)
	}
	if err != nil {
		return Message{}, fail("read message", err)
	}
	return m, nil
}
