package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Groups (section 8): owner rules, membership changes kept in the member
// cache, group.event to online members.

func toGroup(g store.Group) protocol.Group {
	return protocol.Group{GroupID: g.ID, Name: g.Name, Owner: g.Owner, MemberCount: g.MemberCount, Notice: g.Notice}
}

// groupEvent pushes one group.event to every online session of members.
func (s *Server) groupEvent(members []int64, groupID int64, kind string, user int64) {
	s.groupEventPush(members, &protocol.GroupEventPush{GroupID: groupID, Kind: kind, UserID: user})
}

// groupEventPush pushes ev to every online session of members.
func (s *Server) groupEventPush(members []int64, ev *protocol.GroupEventPush) {
	if len(members) == 0 {
		return
	}
	s.pushUsers(members, encodePush(protocol.OpGroupEvent, ev), "", 0, nil)
}

// group loads a group, NOT_FOUND when it does not exist.
func (s *Server) group(x *call, id int64) (store.Group, error) {
	g, err := s.store.Group(x.ctx(), id)
	if errors.Is(err, store.ErrNotFound) {
		return g, protocol.NewError(protocol.CodeNotFound, "group not found")
	}
	return g, err
}

func (s *Server) groupCreate(x *call, req *protocol.GroupCreateReq) (*protocol.GroupResp, error) {
	me := x.sess.userID
	members := slices.DeleteFunc(slices.Clone(req.Members), func(id int64) bool { return id == me })
	slices.Sort(members)
	members = slices.Compact(members)
	if len(members) > 0 {
		friends, err := s.store.Friends(x.ctx(), me, maxFriends)
		if err != nil {
			return nil, err
		}
		fs := make(map[int64]bool, len(friends))
		for _, f := range friends {
			fs[f.ID] = true
		}
		for _, id := range members {
			if !fs[id] {
				return nil, protocol.Errorf(protocol.CodeForbidden, "user %d is not your friend", id)
			}
		}
	}
	g, err := s.store.CreateGroup(x.ctx(), req.Name, me, members, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	all := append(slices.Clone(members), me)
	s.groups.set(g.ID, all)
	// Each added member learns it joined (the creator has the reply).
	for _, id := range members {
		s.groupEvent([]int64{id}, g.ID, protocol.GroupJoined, id)
	}
	return &protocol.GroupResp{Status: protocol.OK(), Group: toGroup(g)}, nil
}

func (s *Server) groupJoin(x *call, req *protocol.GroupIDReq) (*protocol.GroupResp, error) {
	me := x.sess.userID
	g, err := s.store.JoinGroup(x.ctx(), req.GroupID, me, time.Now().UnixMilli())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, protocol.NewError(protocol.CodeNotFound, "group not found")
	case errors.Is(err, store.ErrAlreadyMember):
		return nil, protocol.NewError(protocol.CodeAlreadyExists, "already a member")
	case err != nil:
		return nil, err
	}
	s.groups.add(g.ID, me)
	if members, err := s.groups.members(x.ctx(), g.ID); err == nil {
		s.groupEvent(members, g.ID, protocol.GroupJoined, me)
	}
	return &protocol.GroupResp{Status: protocol.OK(), Group: toGroup(g)}, nil
}

// removeMember takes user out of the group for leave and kick; the event
// goes to the members before the removal, the removed user included.
func (s *Server) removeMember(x *call, g store.Group, user int64, kind string) error {
	before, err := s.groups.members(x.ctx(), g.ID)
	if err != nil {
		return err
	}
	if _, ok := slices.BinarySearch(before, user); !ok {
		if kind == protocol.GroupLeft {
			return protocol.NewError(protocol.CodeForbidden, "not a member of the group")
		}
		return protocol.NewError(protocol.CodeNotFound, "user is not a member of the group")
	}
	err = s.store.LeaveGroup(x.ctx(), g.ID, user)
	if errors.Is(err, store.ErrNotFound) {
		s.groups.remove(g.ID, user)
		return protocol.NewError(protocol.CodeNotFound, "not a member of the group")
	}
	if err != nil {
		return err
	}
	s.groups.remove(g.ID, user)
	s.groupEvent(before, g.ID, kind, user)
	return nil
}

func (s *Server) groupLeave(x *call, req *protocol.GroupIDReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if g.Owner == x.sess.userID {
		return nil, protocol.NewError(protocol.CodeForbidden, "the owner must dismiss the group")
	}
	if err := s.removeMember(x, g, x.sess.userID, protocol.GroupLeft); err != nil {
		return nil, err
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) groupKick(x *call, req *protocol.GroupKickReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if req.UserID == x.sess.userID {
		return nil, protocol.BadRequest("user_id", "cannot kick yourself")
	}
	if g.Owner != x.sess.userID {
		// An admin may kick plain members.
		if err := s.needRole(x, g, store.RoleAdmin); err != nil {
			return nil, err
		}
		target, err := s.memberRole(x, g, req.UserID)
		if err != nil {
			return nil, err
		}
		if target != store.RoleMember {
			return nil, protocol.NewError(protocol.CodeForbidden, "an admin may kick only plain members")
		}
	}
	if err := s.removeMember(x, g, req.UserID, protocol.GroupKicked); err != nil {
		return nil, err
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) groupDismiss(x *call, req *protocol.GroupIDReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if g.Owner != x.sess.userID {
		return nil, protocol.NewError(protocol.CodeForbidden, "only the owner may dismiss")
	}
	before, err := s.groups.members(x.ctx(), g.ID)
	if err != nil {
		return nil, err
	}
	if err := s.store.DismissGroup(x.ctx(), g.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, protocol.NewError(protocol.CodeNotFound, "group not found")
		}
		return nil, err
	}
	s.groups.drop(g.ID)
	s.groupEvent(before, g.ID, protocol.GroupDismissed, x.sess.userID)
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) groupMembers(x *call, req *protocol.GroupIDReq) (*protocol.GroupMembersResp, error) {
	if _, err := s.group(x, req.GroupID); err != nil {
		return nil, err
	}
	members, err := s.store.GroupMemberList(x.ctx(), req.GroupID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.UserID)
	}
	if _, ok := slices.BinarySearch(ids, x.sess.userID); !ok {
		return nil, protocol.NewError(protocol.CodeForbidden, "not a member of the group")
	}
	users, err := s.store.UsersByIDs(x.ctx(), ids)
	if err != nil {
		return nil, err
	}
	resp := &protocol.GroupMembersResp{Status: protocol.OK(), Members: make([]protocol.GroupMember, 0, len(ids))}
	for _, m := range members {
		if u, ok := users[m.UserID]; ok {
			resp.Members = append(resp.Members, protocol.GroupMember{
				Friend: protocol.Friend{Profile: toProfile(u), Online: s.router.Online(m.UserID)},
				Role:   string(m.Role), MutedUntil: m.MutedUntil})
		}
	}
	return resp, nil
}

func (s *Server) groupList(x *call, _ *protocol.GroupListReq) (*protocol.GroupListResp, error) {
	groups, err := s.store.GroupsOfUser(x.ctx(), x.sess.userID, maxGroups)
	if err != nil {
		return nil, err
	}
	resp := &protocol.GroupListResp{Status: protocol.OK(), Groups: make([]protocol.Group, 0, len(groups))}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, toGroup(g))
	}
	return resp, nil
}

// Group administration (section 15): roles, mutes, the notice and the
// transfer of ownership. The owner is the group's Owner; the store keeps
// each other member's role and mute.

// memberRole returns user's role in g; NOT_FOUND when not a member.
func (s *Server) memberRole(x *call, g store.Group, user int64) (store.Role, error) {
	if user == g.Owner {
		return store.RoleOwner, nil
	}
	m, err := s.store.GroupMember(x.ctx(), g.ID, user)
	if errors.Is(err, store.ErrNotFound) {
		return "", protocol.NewError(protocol.CodeNotFound, "user is not a member of the group")
	}
	return m.Role, err
}

// needRole lets the caller through when it is g's owner or, when min is
// RoleAdmin, an admin of g; FORBIDDEN otherwise.
func (s *Server) needRole(x *call, g store.Group, min store.Role) error {
	if x.sess.userID == g.Owner {
		return nil
	}
	if min == store.RoleAdmin {
		role, err := s.memberRole(x, g, x.sess.userID)
		if err != nil && protocol.AsError(err) == nil {
			return err
		}
		if role == store.RoleAdmin {
			return nil
		}
		return protocol.NewError(protocol.CodeForbidden, "only the owner or an admin may do that")
	}
	return protocol.NewError(protocol.CodeForbidden, "only the owner may do that")
}

// checkNotMuted answers FORBIDDEN, saying until when, when user is muted in
// the group; msg.send and file.offer to a group call it. A non-member is
// not muted (membership is checked elsewhere).
func (s *Server) checkNotMuted(ctx context.Context, groupID, user int64) error {
	m, err := s.store.GroupMember(ctx, groupID, user)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.MutedUntil > s.now().UnixMilli() {
		return protocol.Errorf(protocol.CodeForbidden, "muted in this group until %s",
			time.UnixMilli(m.MutedUntil).UTC().Format(time.RFC3339))
	}
	return nil
}

// groupChanged pushes ev to the group's members.
func (s *Server) groupChanged(x *call, ev *protocol.GroupEventPush) {
	members, err := s.groups.members(x.ctx(), ev.GroupID)
	if err != nil {
		s.log.Warn().Int64("group", ev.GroupID).Err(err).Msg("group event: members")
		return
	}
	s.groupEventPush(members, ev)
}

func (s *Server) groupUpdate(x *call, req *protocol.GroupUpdateReq) (*protocol.GroupResp, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if err := s.needRole(x, g, store.RoleAdmin); err != nil {
		return nil, err
	}
	g, err = s.store.UpdateGroup(x.ctx(), g.ID, store.GroupUpdate{Name: req.Name, Notice: req.Notice})
	if err != nil {
		return nil, err
	}
	pg := toGroup(g)
	s.groupChanged(x, &protocol.GroupEventPush{GroupID: g.ID, Kind: protocol.GroupUpdated, UserID: x.sess.userID, Group: &pg})
	return &protocol.GroupResp{Status: protocol.OK(), Group: pg}, nil
}

func (s *Server) groupSetRole(x *call, req *protocol.GroupSetRoleReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if err := s.needRole(x, g, store.RoleOwner); err != nil {
		return nil, err
	}
	if req.UserID == g.Owner {
		return nil, protocol.BadRequest("user_id", "the owner's role changes only by group.transfer")
	}
	err = s.store.SetMemberRole(x.ctx(), g.ID, req.UserID, store.Role(req.Role))
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "user is not a member of the group")
	}
	if err != nil {
		return nil, err
	}
	s.groupChanged(x, &protocol.GroupEventPush{GroupID: g.ID, Kind: protocol.GroupRoleChanged, UserID: req.UserID, Role: req.Role})
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) groupMute(x *call, req *protocol.GroupMuteReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if err := s.needRole(x, g, store.RoleAdmin); err != nil {
		return nil, err
	}
	if req.UserID == x.sess.userID {
		return nil, protocol.BadRequest("user_id", "cannot mute yourself")
	}
	target, err := s.memberRole(x, g, req.UserID)
	if err != nil {
		return nil, err
	}
	if x.sess.userID != g.Owner && target != store.RoleMember {
		return nil, protocol.NewError(protocol.CodeForbidden, "an admin cannot mute the owner or an admin")
	}
	err = s.store.MuteMember(x.ctx(), g.ID, req.UserID, req.Until)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "user is not a member of the group")
	}
	if err != nil {
		return nil, err
	}
	until := req.Until
	s.groupChanged(x, &protocol.GroupEventPush{GroupID: g.ID, Kind: protocol.GroupMuted, UserID: req.UserID, Until: &until})
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) groupTransfer(x *call, req *protocol.GroupTransferReq) (*protocol.Status, error) {
	g, err := s.group(x, req.GroupID)
	if err != nil {
		return nil, err
	}
	if err := s.needRole(x, g, store.RoleOwner); err != nil {
		return nil, err
	}
	if req.UserID == g.Owner {
		return nil, protocol.BadRequest("user_id", "already the owner")
	}
	err = s.store.TransferGroup(x.ctx(), g.ID, x.sess.userID, req.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, protocol.NewError(protocol.CodeNotFound, "user is not a member of the group")
	case errors.Is(err, store.ErrNotOwner):
		return nil, protocol.NewError(protocol.CodeForbidden, "only the owner may do that")
	case err != nil:
		return nil, err
	}
	s.groupChanged(x, &protocol.GroupEventPush{GroupID: g.ID, Kind: protocol.GroupTransferred, UserID: req.UserID})
	return &protocol.Status{Code: protocol.CodeOK}, nil
}
