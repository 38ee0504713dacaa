package protocol

// Bodies of section 8 (groups).

// Group event kinds.
const (
	GroupJoined    = "joined"
	GroupLeft      = "left"
	GroupKicked    = "kicked"
	GroupDismissed = "dismissed"
)

// Group describes a group; Owner is a user_id.
type Group struct {
	GroupID     int64  `json:"group_id"`
	Name        string `json:"name"`
	Owner       int64  `json:"owner"`
	MemberCount int    `json:"member_count"`
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

// GroupMembersResp is the reply to group.members.
type GroupMembersResp struct {
	Status
	Members []Friend `json:"members"`
}

var membersRespFields = []string{"code", "members"}

// RequiredFields implements Body.
func (r *GroupMembersResp) RequiredFields() []string { return r.need(membersRespFields) }

// Normalize implements Normalizer.
func (r *GroupMembersResp) Normalize() {
	if r.Members == nil {
		r.Members = []Friend{}
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
// GroupJoined, GroupLeft, GroupKicked, GroupDismissed.
type GroupEventPush struct {
	GroupID int64  `json:"group_id"`
	Kind    string `json:"kind"`
	UserID  int64  `json:"user_id"`
}

var groupEventFields = []string{"group_id", "kind", "user_id"}

// RequiredFields implements Body.
func (*GroupEventPush) RequiredFields() []string { return groupEventFields }
