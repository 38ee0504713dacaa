package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatd/chatd/protocol"
)

func (s *sqlStore) ChangePassword(ctx context.Context, userID int64, passwordHash string, keep Session) error {
	return s.inTx(ctx, "change password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND deleted_at = 0`, passwordHash, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return outcome(fmt.Errorf("user %d: %w", userID, ErrNotFound))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if len(keep.TokenHash) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, device, created_at, expires_at) VALUES (?,?,?,?,?)`,
			keep.TokenHash, userID, keep.Device, keep.CreatedAt, keep.ExpiresAt)
		return err
	})
}

func (s *sqlStore) RevokeDevice(ctx context.Context, userID int64, device string, now int64) (int, error) {
	var live int
	err := s.inTx(ctx, "revoke device", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = ? AND device = ? AND expires_at > ?`,
			userID, device, now).Scan(&live); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND device = ?`, userID, device)
		return err
	})
	return live, err
}

func (s *sqlStore) DeleteAccount(ctx context.Context, userID int64, ts int64) (AccountDeletion, error) {
	var out AccountDeletion
	err := s.inTx(ctx, "delete account", func(tx *sql.Tx) error {
		out = AccountDeletion{Friends: []int64{}, Dismissed: []GroupMembers{}, Left: []GroupMembers{}}
		var deletedAt int64
		err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM users WHERE id = ?`+s.d.forUpdate, userID).Scan(&deletedAt)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deletedAt != 0) {
			return outcome(fmt.Errorf("user %d: %w", userID, ErrNotFound))
		}
		if err != nil {
			return err
		}
		if out.Friends, err = queryIDs(ctx, tx, `SELECT friend_id FROM friends WHERE user_id = ? ORDER BY friend_id`, userID); err != nil {
			return err
		}
		owned, err := queryIDs(ctx, tx, `SELECT id FROM chat_groups WHERE owner_id = ? ORDER BY id`, userID)
		if err != nil {
			return err
		}
		for _, g := range owned {
			members, err := dismissTx(ctx, tx, g)
			if err != nil {
				return err
			}
			out.Dismissed = append(out.Dismissed, GroupMembers{g, without(members, userID)})
		}
		convs, err := queryStrings(ctx, tx, `SELECT conv FROM conv_members WHERE user_id = ? AND conv >= 'g:' AND conv < 'g;' ORDER BY conv`, userID)
		if err != nil {
			return err
		}
		for _, conv := range convs {
			members, err := queryIDs(ctx, tx, qConvMembers, conv)
			if err != nil {
				return err
			}
			if id, err := protocol.ParseConv(conv); err == nil && id.IsGroup() {
				out.Left = append(out.Left, GroupMembers{id.GroupID(), without(members, userID)})
				if _, err := tx.ExecContext(ctx, qCountMember, -1, id.GroupID()); err != nil {
					return err
				}
			}
		}
		for _, q := range []string{
			`DELETE FROM conv_members WHERE user_id = ?`,
			`DELETE FROM friends WHERE user_id = ?`,
			`DELETE FROM friends WHERE friend_id = ?`,
			`DELETE FROM friend_requests WHERE from_id = ? AND status = 0`,
			`DELETE FROM friend_requests WHERE to_id = ? AND status = 0`,
			`DELETE FROM sessions WHERE user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET nickname = ?, nick_key = ?, signature = '', avatar = NULL, avatar_sha256 = '',
			password_hash = '', deleted_at = ? WHERE id = ?`, DeletedNickname, DeletedNickname, ts, userID)
		return err
	})
	if err != nil {
		return AccountDeletion{}, err
	}
	return out, nil
}

// queryIDs runs a query of one integer column in a transaction.
func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	return queryColumn[int64](ctx, tx, q, args...)
}

// queryStrings runs a query of one text column in a transaction.
func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	return queryColumn[string](ctx, tx, q, args...)
}

func queryColumn[T any](ctx context.Context, tx *sql.Tx, q string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// without returns ids without id (ids is not kept).
func without(ids []int64, id int64) []int64 {
	out := ids[:0]
	for _, v := range ids {
		if v != id {
			out = append(out, v)
		}
	}
	return out
}
