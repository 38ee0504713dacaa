package protocol

// Bodies of section 6 (friends).

// FriendReq is a friend request as listed by friend.pending.
type FriendReq struct {
	RequestID int64   `json:"request_id"`
	From      Profile `json:"from"`
	To        Profile `json:"to"`
	Note      string  `json:"note"`
	Ts        int64   `json:"ts"`
}

var friendReqFields = []string{"request_id", "from", "to", "note", "ts"}

// RequiredFields implements Body.
func (*FriendReq) RequiredFields() []string { return friendReqFields }

// FriendRequestReq is the body of friend.request.
type FriendRequestReq struct {
	UserID int64  `json:"user_id"`
	Note   string `json:"note,omitempty"`
}

// RequiredFields implements Body.
func (*FriendRequestReq) RequiredFields() []string { return userIDFields }

// Validate implements Request. Requesting oneself is checked by the server,
// which knows who the sender is.
func (r *FriendRequestReq) Validate(l *Limits) error {
	if err := CheckID("user_id", r.UserID); err != nil {
		return err
	}
	return l.CheckNote(r.Note)
}

// FriendRequestResp is the reply to friend.request.
type FriendRequestResp struct {
	Status
	RequestID int64 `json:"request_id"`
}

var requestIDRespFields = []string{"code", "request_id"}

// RequiredFields implements Body.
func (r *FriendRequestResp) RequiredFields() []string { return r.need(requestIDRespFields) }

// FriendRespondReq is the body of friend.respond. The reply is a bare Status.
type FriendRespondReq struct {
	RequestID int64 `json:"request_id"`
	Accept    bool  `json:"accept"`
}

var friendRespondFields = []string{"request_id", "accept"}

// RequiredFields implements Body.
func (*FriendRespondReq) RequiredFields() []string { return friendRespondFields }

// Validate implements Request.
func (r *FriendRespondReq) Validate(*Limits) error { return CheckID("request_id", r.RequestID) }

// FriendRemoveReq is the body of friend.remove. The reply is a bare Status.
type FriendRemoveReq struct {
	UserID int64 `json:"user_id"`
}

// RequiredFields implements Body.
func (*FriendRemoveReq) RequiredFields() []string { return userIDFields }

// Validate implements Request.
func (r *FriendRemoveReq) Validate(*Limits) error { return CheckID("user_id", r.UserID) }

// FriendListReq is the body of friend.list: {}.
type FriendListReq struct{}

// RequiredFields implements Body.
func (*FriendListReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*FriendListReq) Validate(*Limits) error { return nil }

// FriendListResp is the reply to friend.list.
type FriendListResp struct {
	Status
	Friends []Friend `json:"friends"`
}

var friendsRespFields = []string{"code", "friends"}

// RequiredFields implements Body.
func (r *FriendListResp) RequiredFields() []string { return r.need(friendsRespFields) }

// Normalize implements Normalizer.
func (r *FriendListResp) Normalize() {
	if r.Friends == nil {
		r.Friends = []Friend{}
	}
}

// FriendPendingReq is the body of friend.pending: {}.
type FriendPendingReq struct{}

// RequiredFields implements Body.
func (*FriendPendingReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*FriendPendingReq) Validate(*Limits) error { return nil }

// FriendPendingResp is the reply to friend.pending: requests to and from the
// user that are still pending.
type FriendPendingResp struct {
	Status
	Incoming []FriendReq `json:"incoming"`
	Outgoing []FriendReq `json:"outgoing"`
}

var friendPendingFields = []string{"code", "incoming", "outgoing"}

// RequiredFields implements Body.
func (r *FriendPendingResp) RequiredFields() []string { return r.need(friendPendingFields) }

// Normalize implements Normalizer.
func (r *FriendPendingResp) Normalize() {
	if r.Incoming == nil {
		r.Incoming = []FriendReq{}
	}
	if r.Outgoing == nil {
		r.Outgoing = []FriendReq{}
	}
}

// FriendRequestedPush is the body of the friend.requested push.
type FriendRequestedPush struct {
	RequestID int64   `json:"request_id"`
	From      Profile `json:"from"`
	Note      string  `json:"note"`
}

var friendRequestedFields = []string{"request_id", "from", "note"}

// RequiredFields implements Body.
func (*FriendRequestedPush) RequiredFields() []string { return friendRequestedFields }

// FriendRespondedPush is the body of the friend.responded push.
type FriendRespondedPush struct {
	RequestID int64   `json:"request_id"`
	By        Profile `json:"by"`
	Accepted  bool    `json:"accepted"`
}

var friendRespondedFields = []string{"request_id", "by", "accepted"}

// RequiredFields implements Body.
func (*FriendRespondedPush) RequiredFields() []string { return friendRespondedFields }

// FriendRemovedPush is the body of the friend.removed push: who removed the
// receiver.
type FriendRemovedPush struct {
	UserID int64 `json:"user_id"`
}

// RequiredFields implements Body.
func (*FriendRemovedPush) RequiredFields() []string { return userIDFields }
