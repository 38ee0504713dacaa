package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/chatd/chatd/protocol"
)

func (s *sqlStore) CreateGroup(ctx context.Context, name string, owner int64, members []int64, ts int64) (Group, error) {
	ids := uniqueIDs(append([]int64{owner}, members...))
	g := Group{Name: name, Owner: owner, MemberCount: len(ids), CreatedAt: ts}
	err := s.inTx(ctx, "create group", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO chat_groups (name, owner_id, created_at, member_count) VALUES (?,?,?,?)`, name, owner, ts, len(ids))
		if err != nil {
			return err
		}
		if g.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		conv := protocol.GroupConv(g.ID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, last_seq, last_ts) VALUES (?, 0, ?)`, conv, ts); err != nil {
			return err
		}
		args := make([]any, 0, 3*len(ids))
		for _, id := range ids {
			args = append(args, id, conv, ts)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO conv_members (user_id, conv, joined_at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?,?,?),", len(ids)), ","), args...)
		return err
	})
	return g, err
}

func uniqueIDs(ids []int64) []int64 {
	out := append([]int64(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	n := 0
	for i, v := range out {
		if i == 0 || v != out[n-1] {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// qGroup reads a group and its member count; arg: the group's id.
const qGroup = `SELECT name, owner_id, created_at, notice, member_count FROM chat_groups WHERE id = ?`

// qCountMember moves a group's member count (schema v8), in the
// transaction that changes its members; args: delta, group id.
const qCountMember = `UPDATE chat_groups SET member_count = member_count + ? WHERE id = ?`

// scanGroup scans group groupID from a qGroup row (of the reader, or of a
// transaction to see its own writes).
func scanGroup(row scanner, groupID int64) (Group, error) {
	g := Group{ID: groupID}
	err := row.Scan(&g.Name, &g.Owner, &g.CreatedAt, &g.Notice, &g.MemberCount)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, fmt.Errorf("store: group %d: %w", groupID, ErrNotFound)
	}
	if err != nil {
		return Group{}, fail("read group", err)
	}
	return g, nil
}

func (s *sqlStore) Group(ctx context.Context, groupID int64) (Group, error) {
	return scanGroup(s.reads.queryRow(ctx, qGroup, groupID), groupID)
}

func (s *sqlStore) JoinGroup(ctx context.Context, groupID, userID int64, ts int64) (Group, error) {
	var g Group
	err := s.inTx(ctx, "join group", func(tx *sql.Tx) error {
		var err error
		if g, err = scanGroup(tx.QueryRowContext(ctx, qGroup, groupID), groupID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return outcome(err)
			}
			return err
		}
		res, err := tx.ExecContext(ctx, s.d.insertIgnore+` INTO conv_members (user_id, conv, joined_at) VALUES (?,?,?)`, userID, protocol.GroupConv(groupID), ts)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return outcome(fmt.Errorf("user %d in group %d: %w", userID, groupID, ErrAlreadyMember))
		}
		g.MemberCount++
		_, err = tx.ExecContext(ctx, qCountMember, 1, groupID)
		return err
	})
	return g, err
}

func (s *sqlStore) LeaveGroup(ctx context.Context, groupID, userID int64) error {
	return s.inTx(ctx, "leave group", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM conv_members WHERE user_id = ? AND conv = ?`, userID, protocol.GroupConv(groupID))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return outcome(fmt.Errorf("user %d in group %d: %w", userID, groupID, ErrNotFound))
		}
		_, err = tx.ExecContext(ctx, qCountMember, -1, groupID)
		return err
	})
}

func (s *sqlStore) DismissGroup(ctx context.Context, groupID int64) error {
	return s.inTx(ctx, "dismiss group", func(tx *sql.Tx) error {
		_, err := dismissTx(ctx, tx, groupID)
		return err
	})
}

// dismissTx deletes a group and its memberships in tx and returns the
// members it had.
func dismissTx(ctx context.Context, tx *sql.Tx, groupID int64) ([]int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM chat_groups WHERE id = ?`, groupID)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, outcome(fmt.Errorf("group %d: %w", groupID, ErrNotFound))
	}
	conv := protocol.GroupConv(groupID)
	members, err := queryIDs(ctx, tx, qConvMembers, conv)
	if err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM conv_members WHERE conv = ?`, conv)
	return members, err
}

func (s *sqlStore) GroupMembers(ctx context.Context, groupID int64) ([]int64, error) {
	if _, err := s.Group(ctx, groupID); err != nil {
		return nil, err
	}
	return s.ConvMembers(ctx, protocol.GroupConv(groupID))
}

func (s *sqlStore) ConvMembers(ctx context.Context, conv string) ([]int64, error) {
	rows, err := s.reads.query(ctx, qConvMembers, conv)
	if err != nil {
		return nil, fail("read members", err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fail("read members", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("read members", err)
	}
	return out, nil
}

func (s *sqlStore) GroupsOfUser(ctx context.Context, userID int64, limit int) ([]Group, error) {
	rows, err := s.reads.query(ctx, qUserGroupConv, userID, bound(limit))
	if err != nil {
		return nil, fail("read groups", err)
	}
	var ids []int64
	for rows.Next() {
		var conv string
		if err := rows.Scan(&conv); err != nil {
			rows.Close()
			return nil, fail("read groups", err)
		}
		if id, err := protocol.ParseConv(conv); err == nil && id.IsGroup() {
			ids = append(ids, id.GroupID())
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("read groups", err)
	}
	out := make([]Group, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// Variable texts (IN lists): run unprepared, not through the cache.
	rows, err = s.r.QueryContext(ctx, fmt.Sprintf(qGroupsByIDs, placeholders(len(ids))), int64Args(ids)...)
	if err != nil {
		return nil, fail("read groups", err)
	}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Owner, &g.CreatedAt, &g.Notice, &g.MemberCount); err != nil {
			rows.Close()
			return nil, fail("read groups", err)
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("read groups", err)
	}
	return out, nil
}

func (s *sqlStore) IsGroupMember(ctx context.Context, groupID, userID int64) (bool, error) {
	return s.IsConvMember(ctx, userID, protocol.GroupConv(groupID))
}

func (s *sqlStore) IsConvMember(ctx context.Context, userID int64, conv string) (bool, error) {
	var n int
	if err := s.reads.queryRow(ctx, qIsConvMember, userID, conv).Scan(&n); err != nil {
		return false, fail("is member", err)
	}
	return n > 0, nil
}
