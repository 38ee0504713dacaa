package protocol

// Bodies of section 8 (groups).

// Group event kinds.
const (
	GroupJoined    = "joined"
	GroupLeft      = "left"
	GroupKicked    = "kicked"
	GroupDismissed = "dismissed"
	// Kinds protocol 1.1 adds (section 15).
	GroupUpdated     = "updated"     // user_id changed the name or notice; Group set
	GroupRoleChanged = "role"        // user_id's role changed; Role set
	GroupMuted       = "muted"       // user_id was muted until Until (0: lifted)
	GroupTransferred = "transferred" // user_id is the new owner
)

// Member roles in a group (1.1).
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Group describes a group; Owner is a user_id.
type Group struct {
	GroupID     int64  `json:"group_id"`
	Name        string `json:"name"`
	Owner       int64  `json:"owner"`
	MemberCount int    `json:"member_count"`
	// Notice (1.1) is the group's notice board, "" when none.
	Notice string `json:"notice"`
}

var groupFields = []string{"group_id", "name", "owner", "member_count"}

// RequiredFields implements Body.
func (*Group) RequiredFields() []string { return groupFields }

// GroupCreateReq is the body of group.create; Members are user ids (friends
// of the creator) who join too.
type GroupCreateReq struct {
	Name    string  `json:"name"`
	Members []int64 `json:"members,omitempty"`
}

var nameFields = []string{"name"}

// RequiredFields implements Body.
func (*GroupCreateReq) RequiredFields() []string { return nameFields }

// Validate implements Request.
func (r *GroupCreateReq) Validate(l *Limits) error {
	l = l.orDefault()
	if err := l.CheckGroupName(r.Name); err != nil {
		return err
	}
	if len(r.Members) > l.MaxGroupMembers {
		return BadRequest("members", "too many members")
	}
	for _, id := range r.Members {
		if err := CheckID("members", id); err != nil {
			return err
		}
	}
	return nil
}

// GroupResp is the reply to group.create and group.join.
type GroupResp struct {
	Status
	Group Group `json:"group"`
}

var groupRespFields = []string{"code", "group"}

// RequiredFields implements Body.
func (r *GroupResp) RequiredFields() []string { return r.need(groupRespFields) }

// GroupIDReq is the body of group.join, group.leave, group.dismiss and
// group.members: {group_id}.
type GroupIDReq struct {
	GroupID int64 `json:"group_id"`
}

var groupIDFields = []string{"group_id"}

// RequiredFields implements Body.
func (*GroupIDReq) RequiredFields() []string { return groupIDFields }

// Validate implements Request.
func (r *GroupIDReq) Validate(*Limits) error { return CheckID("group_id", r.GroupID) }

// GroupKickReq is the body of group.kick (reply: bare Status).
type GroupKickReq struct {
	GroupID int64 `json:"group_id"`
	UserID  int64 `json:"user_id"`
}

var groupKickFields = []string{"group_id", "user_id"}

// RequiredFields implements Body.
func (*GroupKickReq) RequiredFields() []string { return groupKickFields }

// Validate implements Request.
func (r *GroupKickReq) Validate(*Limits) error {
	if err := CheckID("group_id", r.GroupID); err != nil {
		return err
	}
	return CheckID("user_id", r.UserID)
}

// GroupMember is one member in group.members: a friend object with the
// member's role and, when muted, the end of the mute in unix ms (1.1).
type GroupMember struct {
	Friend
	Role       string `json:"role"`
	MutedUntil int64  `json:"muted_until"`
}

// GroupMembersResp is the reply to group.members.
type GroupMembersResp struct {
	Status
	Members []GroupMember `json:"members"`
}

var membersRespFields = []string{"code", "members"}

// RequiredFields implements Body.
func (r *GroupMembersResp) RequiredFields() []string { return r.need(membersRespFields) }

// Normalize implements Normalizer.
func (r *GroupMembersResp) Normalize() {
	if r.Members == nil {
		r.Members = []GroupMember{}
	}
}

// GroupListReq is the body of group.list: {}.
type GroupListReq struct{}

// RequiredFields implements Body.
func (*GroupListReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*GroupListReq) Validate(*Limits) error { return nil }

// GroupListResp is the reply to group.list.
type GroupListResp struct {
	Status
	Groups []Group `json:"groups"`
}

var groupsRespFields = []string{"code", "groups"}

// RequiredFields implements Body.
func (r *GroupListResp) RequiredFields() []string { return r.need(groupsRespFields) }

// Normalize implements Normalizer.
func (r *GroupListResp) Normalize() {
	if r.Groups == nil {
		r.Groups = []Group{}
	}
}

// GroupEventPush is the body of the group.event push; Kind is one of
// GroupJoined, GroupLeft, GroupKicked, GroupDismissed and, in 1.1,
// GroupUpdated (with Group), GroupRoleChanged (with Role), GroupMuted (with
// Until) and GroupTransferred.
type GroupEventPush struct {
	GroupID int64  `json:"group_id"`
	Kind    string `json:"kind"`
	UserID  int64  `json:"user_id"`
	Group   *Group `json:"group,omitempty"`
	Role    string `json:"role,omitempty"`
	Until   *int64 `json:"until,omitempty"`
}

var groupEventFields = []string{"group_id", "kind", "user_id"}

// RequiredFields implements Body.
func (*GroupEventPush) RequiredFields() []string { return groupEventFields }

// GroupUpdateReq is the body of group.update (1.1): the fields to change,
// at least one. The reply is a GroupResp.
type GroupUpdateReq struct {
	GroupID int64   `json:"group_id"`
	Name    *string `json:"name,omitempty"`
	Notice  *string `json:"notice,omitempty"`
}

// RequiredFields implements Body.
func (*GroupUpdateReq) RequiredFields() []string { return groupIDFields }

// Validate implements Request.
func (r *GroupUpdateReq) Validate(l *Limits) error {
	if err := CheckID("group_id", r.GroupID); err != nil {
		return err
	}
	if r.Name == nil && r.Notice == nil {
		return BadRequest("name", "give name or notice")
	}
	if r.Name != nil {
		if err := l.CheckGroupName(*r.Name); err != nil {
			return err
		}
	}
	if r.Notice != nil {
		return l.CheckNotice(*r.Notice)
	}
	return nil
}

// GroupSetRoleReq is the body of group.set_role (1.1): Role is RoleAdmin or
// RoleMember. The reply is a bare Status.
type GroupSetRoleReq struct {
	GroupID int64  `json:"group_id"`
	UserID  int64  `json:"user_id"`
	Role    string `json:"role"`
}

var groupSetRoleFields = []string{"group_id", "user_id", "role"}

// RequiredFields implements Body.
func (*GroupSetRoleReq) RequiredFields() []string { return groupSetRoleFields }

// Validate implements Request.
func (r *GroupSetRoleReq) Validate(*Limits) error {
	if err := checkGroupUser(r.GroupID, r.UserID); err != nil {
		return err
	}
	if r.Role != RoleAdmin && r.Role != RoleMember {
		return BadRequest("role", `must be "admin" or "member"`)
	}
	return nil
}

// GroupMuteReq is the body of group.mute (1.1): Until is unix ms, 0 lifts
// the mute. The reply is a bare Status.
type GroupMuteReq struct {
	GroupID int64 `json:"group_id"`
	UserID  int64 `json:"user_id"`
	Until   int64 `json:"until"`
}

var groupMuteFields = []string{"group_id", "user_id", "until"}

// RequiredFields implements Body.
func (*GroupMuteReq) RequiredFields() []string { return groupMuteFields }

// Validate implements Request.
func (r *GroupMuteReq) Validate(*Limits) error {
	if err := checkGroupUser(r.GroupID, r.UserID); err != nil {
		return err
	}
	if r.Until < 0 || r.Until >= MaxID {
		return BadRequest("until", "must be unix ms, or 0 to lift the mute")
	}
	return nil
}

// GroupTransferReq is the body of group.transfer (1.1): UserID becomes the
// owner. The reply is a bare Status.
type GroupTransferReq struct {
	GroupID int64 `json:"group_id"`
	UserID  int64 `json:"user_id"`
}

var groupUserFields = []string{"group_id", "user_id"}

// RequiredFields implements Body.
func (*GroupTransferReq) RequiredFields() []string { return groupUserFields }

// Validate implements Request.
func (r *GroupTransferReq) Validate(*Limits) error { return checkGroupUser(r.GroupID, r.UserID) }

func checkGroupUser(groupID, userID int64) error {
	if err := CheckID("group_id", groupID); err != nil {
		return err
	}
	return CheckID("user_id", userID)
}
