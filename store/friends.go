package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/chatd/chatd/protocol"
)

const requestCols = `id, from_id, to_id, note, status, created_at, responded_at`

func scanRequest(sc interface{ Scan(...any) error }) (FriendRequest, error) {
	var r FriendRequest
	err := sc.Scan(&r.ID, &r.From, &r.To, &r.Note, &r.Status, &r.CreatedAt, &r.RespondedAt)
	return r, err
}

func (s *sqlStore) CreateFriendRequest(ctx context.Context, from, to int64, note string, ts int64) (FriendRequest, error) {
	fr := FriendRequest{From: from, To: to, Note: note, Status: RequestPending, CreatedAt: ts}
	err := s.inTx(ctx, "friend request", func(tx *sql.Tx) error {
		// Locking both users' rows serialises concurrent requests between
		// them (on MySQL; SQLite has one writer), so two cannot both see
		// "nothing pending" and both insert.
		var ids []int64
		rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE id IN (?, ?) ORDER BY id`+s.d.forUpdate, from, to)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n := len(ids)
		if n != 2 && !(from == to && n == 1) {
			return outcome(fmt.Errorf("users %d, %d: %w", from, to, ErrNotFound))
		}
		if err := tx.QueryRowContext(ctx, qAreFriends, from, to).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return outcome(ErrAlreadyFriends)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM friend_requests WHERE
			(from_id = ? AND status = 0 AND to_id = ?) OR (from_id = ? AND status = 0 AND to_id = ?)`, from, to, to, from).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return outcome(ErrRequestPending)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO friend_requests (from_id, to_id, note, status, created_at) VALUES (?,?,?,0,?)`, from, to, note, ts)
		if err != nil {
			return err
		}
		fr.ID, err = res.LastInsertId()
		return err
	})
	return fr, err
}

func (s *sqlStore) FriendRequest(ctx context.Context, id int64) (FriendRequest, error) {
	r, err := scanRequest(s.reads.queryRow(ctx, `SELECT `+requestCols+` FROM friend_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return FriendRequest{}, fmt.Errorf("store: friend request %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return FriendRequest{}, fail("read friend request", err)
	}
	return r, nil
}

func (s *sqlStore) RespondFriendRequest(ctx context.Context, id int64, accept bool, ts int64) (FriendRequest, error) {
	var fr FriendRequest
	err := s.inTx(ctx, "respond friend request", func(tx *sql.Tx) error {
		var err error
		fr, err = scanRequest(tx.QueryRowContext(ctx, `SELECT `+requestCols+` FROM friend_requests WHERE id = ?`+s.d.forUpdate, id))
		if errors.Is(err, sql.ErrNoRows) {
			return outcome(fmt.Errorf("request %d: %w", id, ErrNotFound))
		}
		if err != nil {
			return err
		}
		if fr.Status != RequestPending {
			return outcome(fmt.Errorf("request %d: %w", id, ErrNotPending))
		}
		fr.Status, fr.RespondedAt = RequestRejected, ts
		if accept {
			fr.Status = RequestAccepted
		}
		if _, err := tx.ExecContext(ctx, `UPDATE friend_requests SET status = ?, responded_at = ? WHERE id = ?`, fr.Status, ts, id); err != nil {
			return err
		}
		if !accept {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+` INTO friends (user_id, friend_id, created_at) VALUES (?,?,?), (?,?,?)`,
			fr.From, fr.To, ts, fr.To, fr.From, ts); err != nil {
			return err
		}
		conv := protocol.PrivateConv(fr.From, fr.To)
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+` INTO conversations (id, last_seq, last_ts) VALUES (?, 0, ?)`, conv, ts); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.insertIgnore+` INTO conv_members (user_id, conv, joined_at) VALUES (?,?,?), (?,?,?)`,
			fr.From, conv, ts, fr.To, conv, ts)
		return err
	})
	return fr, err
}

func (s *sqlStore) queryRequests(ctx context.Context, q string, args ...any) ([]FriendRequest, error) {
	rows, err := s.reads.query(ctx, q, args...)
	if err != nil {
		return nil, fail("read friend requests", err)
	}
	defer rows.Close()
	out := []FriendRequest{}
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fail("read friend requests", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("read friend requests", err)
	}
	return out, nil
}

func (s *sqlStore) PendingFriendRequests(ctx context.Context, userID int64, limit int) (incoming, outgoing []FriendRequest, err error) {
	incoming, err = s.queryRequests(ctx, qPendingIn, userID, bound(limit))
	if err != nil {
		return nil, nil, err
	}
	outgoing, err = s.queryRequests(ctx, qPendingOut, userID, bound(limit))
	if err != nil {
		return nil, nil, err
	}
	return incoming, outgoing, nil
}

func (s *sqlStore) FriendNotices(ctx context.Context, userID int64, limit int) (incoming, answered []FriendRequest, err error) {
	rows, err := s.reads.query(ctx, qFriendNotices, userID, bound(limit), userID, bound(limit))
	if err != nil {
		return nil, nil, fail("read friend notices", err)
	}
	defer rows.Close()
	incoming, answered = []FriendRequest{}, []FriendRequest{}
	for rows.Next() {
		var kind int
		var r FriendRequest
		if err := rows.Scan(&kind, &r.ID, &r.From, &r.To, &r.Note, &r.Status, &r.CreatedAt, &r.RespondedAt); err != nil {
			return nil, nil, fail("read friend notices", err)
		}
		if kind == 0 {
			incoming = append(incoming, r)
		} else {
			answered = append(answered, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fail("read friend notices", err)
	}
	byID := func(a, b FriendRequest) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(incoming, byID)
	slices.SortFunc(answered, byID)
	return incoming, answered, nil
}

func (s *sqlStore) MarkResponsesNotified(ctx context.Context, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		// A variable text: run unprepared, not through the statement cache.
		if _, err := s.w.ExecContext(ctx, `UPDATE friend_requests SET notified = 1 WHERE status <> 0 AND id IN (`+placeholders(n)+`)`, int64Args(ids[:n])...); err != nil {
			return fail("mark responses notified", err)
		}
		ids = ids[n:]
	}
	return nil
}

func (s *sqlStore) Friends(ctx context.Context, userID int64, limit int) ([]User, error) {
	out := []User{}
	rows, err := s.reads.query(ctx, qFriends, userID, bound(limit))
	err = scanUsers(rows, err, func(u User) { out = append(out, u) })
	return out, err
}

func (s *sqlStore) AreFriends(ctx context.Context, a, b int64) (bool, error) {
	var n int
	if err := s.reads.queryRow(ctx, qAreFriends, a, b).Scan(&n); err != nil {
		return false, fail("are friends", err)
	}
	return n > 0, nil
}

func (s *sqlStore) RemoveFriend(ctx context.Context, a, b int64) error {
	return s.inTx(ctx, "remove friend", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM friends WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`, a, b, b, a)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return outcome(fmt.Errorf("%d and %d: %w", a, b, ErrNotFound))
		}
		return nil
	})
}
