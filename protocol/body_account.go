package protocol

import "strconv"

// Bodies of section 4 (accounts and sessions) and 5 (profiles and presence).

var codeOnly = []string{"code"}

// RequiredFields implements Body: a bare reply needs only its code.
func (*Status) RequiredFields() []string { return codeOnly }

// RequiredFields implements Body for a decoded failure reply.
func (*Error) RequiredFields() []string { return codeOnly }

// need returns all when the reply is a success, else only "code": a failure
// reply carries nothing but code, message and retry_after_ms.
func (s *Status) need(all []string) []string {
	if s.Code == CodeOK {
		return all
	}
	return codeOnly
}

// noFields is shared by bodies without required fields ({}).
var noFields []string

// Profile is the public view of a user.
type Profile struct {
	UserID       int64  `json:"user_id"`
	Username     string `json:"username"`
	Nickname     string `json:"nickname"`
	Signature    string `json:"signature"`
	AvatarSha256 string `json:"avatar_sha256"` // lowercase hex, "" without avatar
}

var profileFields = []string{"user_id", "username", "nickname", "signature", "avatar_sha256"}

// RequiredFields implements Body.
func (*Profile) RequiredFields() []string { return profileFields }

// Friend is a friend's profile and whether the friend is online.
type Friend struct {
	Profile Profile `json:"profile"`
	Online  bool    `json:"online"`
}

var friendFields = []string{"profile", "online"}

// RequiredFields implements Body.
func (*Friend) RequiredFields() []string { return friendFields }

// PingReq is the body of ping: {}.
type PingReq struct{}

// RequiredFields implements Body.
func (*PingReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*PingReq) Validate(*Limits) error { return nil }

// PingResp is the reply to ping: the server's unix ms.
type PingResp struct {
	Status
	Ts int64 `json:"ts"`
}

var pingRespFields = []string{"code", "ts"}

// RequiredFields implements Body.
func (r *PingResp) RequiredFields() []string { return r.need(pingRespFields) }

// RegisterReq is the body of register. An empty Nickname means "use the
// username".
type RegisterReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Nickname string `json:"nickname,omitempty"`
}

var registerReqFields = []string{"username", "password"}

// RequiredFields implements Body.
func (*RegisterReq) RequiredFields() []string { return registerReqFields }

// Validate implements Request.
func (r *RegisterReq) Validate(l *Limits) error {
	if err := CheckUsername(r.Username); err != nil {
		return err
	}
	if err := l.CheckPassword(r.Password); err != nil {
		return err
	}
	if r.Nickname != "" {
		return l.CheckNickname(r.Nickname)
	}
	return nil
}

// RegisterResp is the reply to register.
type RegisterResp struct {
	Status
	UserID int64 `json:"user_id"`
}

var registerRespFields = []string{"code", "user_id"}

// RequiredFields implements Body.
func (r *RegisterResp) RequiredFields() []string { return r.need(registerRespFields) }

// DefaultDevice is the device label of a login that names none.
const DefaultDevice = "default"

// LoginReq is the body of login: exactly one of Password and Token is set.
type LoginReq struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	Device   string `json:"device,omitempty"`
}

var loginReqFields = []string{"username"}

// RequiredFields implements Body.
func (*LoginReq) RequiredFields() []string { return loginReqFields }

// Validate implements Request.
func (r *LoginReq) Validate(l *Limits) error {
	if err := CheckUsername(r.Username); err != nil {
		return err
	}
	switch {
	case r.Password == "" && r.Token == "":
		return BadRequest("password", "password or token required")
	case r.Password != "" && r.Token != "":
		return BadRequest("token", "give either password or token, not both")
	case r.Password != "":
		if err := l.CheckPassword(r.Password); err != nil {
			return err
		}
	case len(r.Token) > l.orDefault().MaxToken:
		return BadRequest("token", "too long")
	}
	return l.CheckDevice(r.Device)
}

// DeviceOrDefault returns the device label, DefaultDevice when absent.
func (r *LoginReq) DeviceOrDefault() string {
	if r.Device == "" {
		return DefaultDevice
	}
	return r.Device
}

// LoginResp is the reply to login: the session token, the user's profile,
// friends, groups and conversations.
type LoginResp struct {
	Status
	UserID  int64      `json:"user_id"`
	Token   string     `json:"token"`
	Profile Profile    `json:"profile"`
	Friends []Friend   `json:"friends"`
	Groups  []Group    `json:"groups"`
	Convs   []ConvInfo `json:"convs"`
	// Server (1.1) names the server's version, protocol and features.
	Server *ServerInfo `json:"server,omitempty"`
}

var loginRespFields = []string{"code", "user_id", "token", "profile", "friends", "groups", "convs"}

// RequiredFields implements Body.
func (r *LoginResp) RequiredFields() []string { return r.need(loginRespFields) }

// Normalize implements Normalizer.
func (r *LoginResp) Normalize() {
	if r.Friends == nil {
		r.Friends = []Friend{}
	}
	if r.Groups == nil {
		r.Groups = []Group{}
	}
	if r.Convs == nil {
		r.Convs = []ConvInfo{}
	}
}

// LogoutReq is the body of logout: {}. The reply is a bare Status.
type LogoutReq struct{}

// RequiredFields implements Body.
func (*LogoutReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*LogoutReq) Validate(*Limits) error { return nil }

// ProfileGetReq is the body of profile.get.
type ProfileGetReq struct {
	UserID int64 `json:"user_id"`
}

var userIDFields = []string{"user_id"}

// RequiredFields implements Body.
func (*ProfileGetReq) RequiredFields() []string { return userIDFields }

// Validate implements Request.
func (r *ProfileGetReq) Validate(*Limits) error { return CheckID("user_id", r.UserID) }

// ProfileGetResp is the reply to profile.get; Avatar is the base64 image,
// present only when the user has one.
type ProfileGetResp struct {
	Status
	Profile Profile `json:"profile"`
	Avatar  string  `json:"avatar,omitempty"`
}

var profileRespFields = []string{"code", "profile"}

// RequiredFields implements Body.
func (r *ProfileGetResp) RequiredFields() []string { return r.need(profileRespFields) }

// ProfileUpdateReq is the body of profile.update: nil fields stay unchanged.
// An empty Signature clears it; an empty Avatar removes the avatar.
type ProfileUpdateReq struct {
	Nickname  *string `json:"nickname,omitempty"`
	Signature *string `json:"signature,omitempty"`
	Avatar    *string `json:"avatar,omitempty"`
}

// RequiredFields implements Body.
func (*ProfileUpdateReq) RequiredFields() []string { return noFields }

// Validate implements Request. The avatar is checked (and decoded) with
// Limits.CheckAvatar; the server decodes it again when storing it.
func (r *ProfileUpdateReq) Validate(l *Limits) error {
	if r.Nickname != nil {
		if err := l.CheckNickname(*r.Nickname); err != nil {
			return err
		}
	}
	if r.Signature != nil {
		if err := l.CheckSignature(*r.Signature); err != nil {
			return err
		}
	}
	if r.Avatar != nil {
		if _, err := l.CheckAvatar(*r.Avatar); err != nil {
			return err
		}
	}
	return nil
}

// ProfileUpdateResp is the reply to profile.update: the new profile.
type ProfileUpdateResp struct {
	Status
	Profile Profile `json:"profile"`
}

// RequiredFields implements Body.
func (r *ProfileUpdateResp) RequiredFields() []string { return r.need(profileRespFields) }

// UserSearchReq is the body of user.search.
type UserSearchReq struct {
	Query string `json:"query"`
}

var queryFields = []string{"query"}

// RequiredFields implements Body.
func (*UserSearchReq) RequiredFields() []string { return queryFields }

// Validate implements Request.
func (r *UserSearchReq) Validate(l *Limits) error { return l.CheckQuery(r.Query) }

// UserSearchResp is the reply to user.search.
type UserSearchResp struct {
	Status
	Users []Profile `json:"users"`
}

var usersFields = []string{"code", "users"}

// RequiredFields implements Body.
func (r *UserSearchResp) RequiredFields() []string { return r.need(usersFields) }

// Normalize implements Normalizer.
func (r *UserSearchResp) Normalize() {
	if r.Users == nil {
		r.Users = []Profile{}
	}
}

// KickReasonLoginElsewhere is the reason of the kicked push sent when a
// new login takes over the (user, device) session.
const KickReasonLoginElsewhere = "login_elsewhere"

// The kicked reasons protocol 1.1 adds (section 13).
const (
	KickReasonPasswordChanged = "password_changed" // another device changed the password
	KickReasonRevoked         = "revoked"          // another device, or an administrator, revoked this one
	KickReasonAccountDeleted  = "account_deleted"  // the account was deleted
)

// KickedPush is the body of the kicked push; Addr is the remote address of
// the login that replaced the session.
type KickedPush struct {
	Reason string `json:"reason"`
	Addr   string `json:"addr"`
}

var kickedFields = []string{"reason", "addr"}

// RequiredFields implements Body.
func (*KickedPush) RequiredFields() []string { return kickedFields }

// PresencePush is the body of the presence push.
type PresencePush struct {
	UserID int64 `json:"user_id"`
	Online bool  `json:"online"`
}

var presenceFields = []string{"user_id", "online"}

// RequiredFields implements Body.
func (*PresencePush) RequiredFields() []string { return presenceFields }

// ProfileChangedPush is the body of the profile.changed push.
type ProfileChangedPush struct {
	Profile Profile `json:"profile"`
}

var profileOnlyFields = []string{"profile"}

// RequiredFields implements Body.
func (*ProfileChangedPush) RequiredFields() []string { return profileOnlyFields }

// ServerInfo is the login reply's description of the server (1.1).
type ServerInfo struct {
	Version  string   `json:"version"`
	Protocol string   `json:"protocol"`
	Features []string `json:"features"`
}

// ProtocolVersion is the contract version this package implements.
const ProtocolVersion = "1.1"

// The features a 1.1 server may list in ServerInfo.Features.
const (
	FeatureTLS        = "tls"
	FeatureWebSocket  = "ws"
	FeatureRecall     = "recall"
	FeatureTyping     = "typing"
	FeatureSearch     = "search"
	FeatureMentions   = "mentions"
	FeatureGroupAdmin = "group_admin"
	FeatureAccount    = "account"
	FeatureRoomPaging = "room_paging"
	FeatureHTTPFiles  = "http_files"
	FeatureCluster    = "cluster"
)

// AccountPasswordReq is the body of account.password (1.1).
type AccountPasswordReq struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

var accountPasswordFields = []string{"old_password", "new_password"}

// RequiredFields implements Body.
func (*AccountPasswordReq) RequiredFields() []string { return accountPasswordFields }

// Validate implements Request. The old password is only checked for size:
// whether it is right is the server's question (BAD_CREDENTIALS).
func (r *AccountPasswordReq) Validate(l *Limits) error {
	if r.OldPassword == "" || len(r.OldPassword) > l.orDefault().MaxPassword {
		return BadRequest("old_password", "required, at most "+strconv.Itoa(l.orDefault().MaxPassword)+" bytes")
	}
	l = l.orDefault()
	if n := len(r.NewPassword); n < l.MinPassword || n > l.MaxPassword {
		return BadRequest("new_password", "must be "+strconv.Itoa(l.MinPassword)+" to "+strconv.Itoa(l.MaxPassword)+" bytes")
	}
	return nil
}

// AccountPasswordResp is the reply to account.password: a new token for
// the calling device (every other token of the user is revoked).
type AccountPasswordResp struct {
	Status
	Token string `json:"token"`
}

var tokenRespFields = []string{"code", "token"}

// RequiredFields implements Body.
func (r *AccountPasswordResp) RequiredFields() []string { return r.need(tokenRespFields) }

// AccountSessionsReq is the body of account.sessions (1.1): {}.
type AccountSessionsReq struct{}

// RequiredFields implements Body.
func (*AccountSessionsReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*AccountSessionsReq) Validate(*Limits) error { return nil }

// SessionInfo is one live session of the user: its device, its remote
// address, since when (unix ms) and whether it is the calling connection.
type SessionInfo struct {
	Device  string `json:"device"`
	Addr    string `json:"addr"`
	Since   int64  `json:"since"`
	Current bool   `json:"current"`
}

var sessionInfoFields = []string{"device", "addr", "since", "current"}

// RequiredFields implements Body.
func (*SessionInfo) RequiredFields() []string { return sessionInfoFields }

// AccountSessionsResp is the reply to account.sessions.
type AccountSessionsResp struct {
	Status
	Sessions []SessionInfo `json:"sessions"`
}

var sessionsRespFields = []string{"code", "sessions"}

// RequiredFields implements Body.
func (r *AccountSessionsResp) RequiredFields() []string { return r.need(sessionsRespFields) }

// Normalize implements Normalizer.
func (r *AccountSessionsResp) Normalize() {
	if r.Sessions == nil {
		r.Sessions = []SessionInfo{}
	}
}

// AccountRevokeReq is the body of account.revoke (1.1); the reply is a bare
// Status.
type AccountRevokeReq struct {
	Device string `json:"device"`
}

var deviceFields = []string{"device"}

// RequiredFields implements Body.
func (*AccountRevokeReq) RequiredFields() []string { return deviceFields }

// Validate implements Request.
func (r *AccountRevokeReq) Validate(l *Limits) error {
	if r.Device == "" {
		return BadRequest("device", "required")
	}
	return l.CheckDevice(r.Device)
}

// AccountDeleteReq is the body of account.delete (1.1); the reply is a bare
// Status, after which the server closes the connection.
type AccountDeleteReq struct {
	Password string `json:"password"`
}

var passwordFields = []string{"password"}

// RequiredFields implements Body.
func (*AccountDeleteReq) RequiredFields() []string { return passwordFields }

// Validate implements Request.
func (r *AccountDeleteReq) Validate(l *Limits) error {
	if r.Password == "" || len(r.Password) > l.orDefault().MaxPassword {
		return BadRequest("password", "required, at most "+strconv.Itoa(l.orDefault().MaxPassword)+" bytes")
	}
	return nil
}
