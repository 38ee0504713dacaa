package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/chatd/chatd/protocol"
)

func (s *sqlStore) UpdateGroup(ctx context.Context, groupID int64, upd GroupUpdate) (Group, error) {
	var sets []string
	var args []any
	if upd.Name != nil {
		sets = append(sets, "name = ?")
		args = append(args, *upd.Name)
	}
	if upd.Notice != nil {
		sets = append(sets, "notice = ?")
		args = append(args, *upd.Notice)
	}
	if len(sets) > 0 {
		// At most 3 texts (which fields are set): fine to cache.
		res, err := s.writes.exec(ctx, `UPDATE chat_groups SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, groupID)...)
		if err != nil {
			return Group{}, fail("update group", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return Group{}, fmt.Errorf("store: update group %d: %w", groupID, ErrNotFound)
		}
	}
	// Read from the writer so the caller sees its own write.
	return scanGroup(s.writes.queryRow(ctx, qGroup, groupID), groupID)
}

// qMembers reads members with their roles (the owner's from chat_groups);
// args: conv, group id, then the extra condition's.
const qMembers = `SELECT cm.user_id, CASE WHEN cm.user_id = g.owner_id THEN 'owner' ELSE cm.role END, cm.muted_until, cm.joined_at
	FROM chat_groups g JOIN conv_members cm ON cm.conv = ? WHERE g.id = ?`

func scanMember(sc scanner) (Member, error) {
	var m Member
	var role string
	err := sc.Scan(&m.UserID, &role, &m.MutedUntil, &m.JoinedAt)
	m.Role = Role(role)
	return m, err
}

func (s *sqlStore) GroupMember(ctx context.Context, groupID, userID int64) (Member, error) {
	m, err := scanMember(s.reads.queryRow(ctx, qMembers+` AND cm.user_id = ?`, protocol.GroupConv(groupID), groupID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, fmt.Errorf("store: member %d of group %d: %w", userID, groupID, ErrNotFound)
	}
	if err != nil {
		return Member{}, fail("read member", err)
	}
	return m, nil
}

func (s *sqlStore) GroupMemberList(ctx context.Context, groupID int64) ([]Member, error) {
	rows, err := s.reads.query(ctx, qMembers+` ORDER BY cm.user_id`, protocol.GroupConv(groupID), groupID)
	if err != nil {
		return nil, fail("read members", err)
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fail("read members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("read members", err)
	}
	if len(out) == 0 { // a group always has its owner: it is gone
		return nil, fmt.Errorf("store: members of group %d: %w", groupID, ErrNotFound)
	}
	return out, nil
}

// lockGroupOwner reads a group's owner in tx, locking the group row on
// MySQL so role changes and transfers of one group serialise.
func (s *sqlStore) lockGroupOwner(ctx context.Context, tx *sql.Tx, groupID int64) (int64, error) {
	var owner int64
	err := tx.QueryRowContext(ctx, `SELECT owner_id FROM chat_groups WHERE id = ?`+s.d.forUpdate, groupID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, outcome(fmt.Errorf("group %d: %w", groupID, ErrNotFound))
	}
	return owner, err
}

// setRole sets a member's role column in tx; ErrNotFound when not a member.
func setRole(ctx context.Context, tx *sql.Tx, groupID, userID int64, role Role) error {
	res, err := tx.ExecContext(ctx, `UPDATE conv_members SET role = ? WHERE conv = ? AND user_id = ?`, string(role), protocol.GroupConv(groupID), userID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return outcome(fmt.Errorf("member %d of group %d: %w", userID, groupID, ErrNotFound))
	}
	return nil
}

func (s *sqlStore) SetMemberRole(ctx context.Context, groupID, userID int64, role Role) error {
	if role != RoleAdmin && role != RoleMember {
		return fmt.Errorf("store: set role %q: want admin or member", role)
	}
	return s.inTx(ctx, "set role", func(tx *sql.Tx) error {
		owner, err := s.lockGroupOwner(ctx, tx, groupID)
		if err != nil {
			return err
		}
		if owner == userID {
			return outcome(fmt.Errorf("role of %d in group %d: %w", userID, groupID, ErrIsOwner))
		}
		return setRole(ctx, tx, groupID, userID, role)
	})
}

func (s *sqlStore) MuteMember(ctx context.Context, groupID, userID int64, until int64) error {
	res, err := s.writes.exec(ctx, `UPDATE conv_members SET muted_until = ? WHERE conv = ? AND user_id = ?`, until, protocol.GroupConv(groupID), userID)
	if err != nil {
		return fail("mute member", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: mute %d in group %d: %w", userID, groupID, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) TransferGroup(ctx context.Context, groupID, from, to int64) error {
	return s.inTx(ctx, "transfer group", func(tx *sql.Tx) error {
		owner, err := s.lockGroupOwner(ctx, tx, groupID)
		if err != nil {
			return err
		}
		if owner != from {
			return outcome(fmt.Errorf("%d in group %d: %w", from, groupID, ErrNotOwner))
		}
		if to == from {
			return outcome(fmt.Errorf("transfer group %d to %d: %w", groupID, to, ErrIsOwner))
		}
		// The role column of the owner is unused; keep it plain.
		if err := setRole(ctx, tx, groupID, to, RoleMember); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chat_groups SET owner_id = ? WHERE id = ?`, to, groupID); err != nil {
			return err
		}
		return setRole(ctx, tx, groupID, from, RoleAdmin)
	})
}
