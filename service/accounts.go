package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/auth"
	"github.com/chatd/chatd/store"
)

// Accounts and sessions (section 4): register, login (password or token),
// logout, the kick of a replaced (user, device) session and presence.

// Lists in the login reply are bounded so one reply stays well inside a
// frame; the full lists come from friend.list, group.list and conv.list.
const (
	maxFriends = 5000
	maxGroups  = 1000
	maxConvs   = 1000
	maxPending = 500
)

// dummyHash returns a hash made with the server's parameters, verified
// against when the username does not exist, so a login takes about as long
// either way (no user enumeration by timing).
func (s *Server) dummyHash(x *call) (string, error) {
	s.dummyOnce.Do(func() {
		s.dummy, s.dummyErr = s.hasher.Hash(x.ctx(), "no such user, no such password")
	})
	return s.dummy, s.dummyErr
}

func toProfile(u store.User) protocol.Profile {
	return protocol.Profile{UserID: u.ID, Username: u.Username, Nickname: u.Nickname,
		Signature: u.Signature, AvatarSha256: u.AvatarSHA256}
}

func (s *Server) register(x *call, req *protocol.RegisterReq) (*protocol.RegisterResp, error) {
	hash, err := s.hasher.Hash(x.ctx(), req.Password)
	if err != nil {
		return nil, err
	}
	nick := req.Nickname
	if nick == "" {
		nick = req.Username
	}
	u, err := s.store.CreateUser(x.ctx(), req.Username, nick, hash, time.Now().UnixMilli())
	if errors.Is(err, store.ErrUsernameTaken) {
		return nil, protocol.NewError(protocol.CodeUsernameTaken, "username taken")
	}
	if err != nil {
		return nil, err
	}
	s.log.Info().Int64("user", u.ID).Str("username", u.Username).Str("remote", x.cs.remote).Msg("registered")
	return &protocol.RegisterResp{Status: protocol.OK(), UserID: u.ID}, nil
}

// loginBlocked answers RATE_LIMITED when the username or the address has
// tripped the failed-login limit.
func (s *Server) loginBlocked(user, ip string) error {
	now := s.now()
	d1, b1 := s.userFails.Blocked(user, now)
	d2, b2 := s.ipFails.Blocked(ip, now)
	if !b1 && !b2 {
		return nil
	}
	s.log.Info().Str("username", user).Str("remote", ip).Dur("retry_after_ms", max(d1, d2)).Msg("login rate limited: too many failures")
	return protocol.RateLimited(max(d1, d2).Milliseconds() + 1)
}

func (s *Server) loginFailed(user, ip string) error {
	s.log.Info().Str("username", user).Str("remote", ip).Msg("login failed")
	s.countLoginFailure(user, ip)
	s.shareLoginFailure(user, ip)
	return protocol.NewError(protocol.CodeBadCredentials, "wrong username, password or token")
}

// countLoginFailure counts a failed login, on this node or another, in
// this node's limiters.
func (s *Server) countLoginFailure(user, ip string) {
	now := s.now()
	s.userFails.Fail(user, now)
	s.ipFails.Fail(ip, now)
}

// shareLoginFailure tells the other live nodes of a cluster about a failed
// login here, so the limits count across nodes (section 19). Every node
// keeps its own in-memory limiters, fed with its own failures and the
// others': checking a login stays a map lookup, and a failure costs one
// small publish per other node, never a wait. A notice lost while the bus
// is down leaves each node counting what it saw, as a single node would.
func (s *Server) shareLoginFailure(user, ip string) {
	if s.node == nil {
		return
	}
	var env []byte
	for _, id := range s.node.LiveNodes() {
		if id == s.node.ID() {
			continue
		}
		if env == nil {
			env = encodeBus(busLoginFail, &busHeader{From: s.node.ID(), Name: user, Addr: ip}, nil)
		}
		if err := s.node.Send(id, env); err != nil {
			metricBusDropped.Inc()
			s.log.Debug().Str("to_node", id).Err(err).Msg("bus: login failure not shared")
			continue
		}
		metricBusSent.Inc()
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// authenticate checks a login's credentials and returns the user and the
// session token (a new one for a password login, the same one for a token
// login) with its hash.
func (s *Server) authenticate(x *call, req *protocol.LoginReq) (store.User, string, []byte, error) {
	ctx := x.ctx()
	key := lowerASCII(req.Username)
	if err := s.loginBlocked(key, x.cs.ip()); err != nil {
		return store.User{}, "", nil, err
	}
	if req.Token != "" {
		hash := auth.HashToken(req.Token)
		u, _, err := s.store.SessionUser(ctx, req.Username, hash, time.Now().UnixMilli())
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, "", nil, s.loginFailed(key, x.cs.ip())
		}
		if err != nil {
			return store.User{}, "", nil, err
		}
		if u.Disabled {
			return store.User{}, "", nil, errDisabled
		}
		return u, req.Token, hash, nil
	}
	u, err := s.store.UserByName(ctx, req.Username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, "", nil, err
	}
	found := err == nil
	enc := u.PasswordHash
	if !found {
		if enc, err = s.dummyHash(x); err != nil {
			return store.User{}, "", nil, err
		}
	}
	err = s.hasher.Verify(ctx, enc, req.Password)
	switch {
	case err == nil && found:
	case err == nil || errors.Is(err, auth.ErrMismatch) || errors.Is(err, auth.ErrMalformedHash):
		if errors.Is(err, auth.ErrMalformedHash) && found {
			s.log.Error().Int64("user", u.ID).Msg("stored password hash is malformed")
		}
		return store.User{}, "", nil, s.loginFailed(key, x.cs.ip())
	default:
		return store.User{}, "", nil, err
	}
	// Only once the password is right, so the answer tells nothing to
	// someone guessing; not a failed login either.
	if u.Disabled {
		return store.User{}, "", nil, errDisabled
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return store.User{}, "", nil, err
	}
	now := time.Now()
	if err := s.store.CreateSession(ctx, store.Session{TokenHash: hash, UserID: u.ID,
		Device: req.DeviceOrDefault(), CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(s.cfg.TokenTTL).UnixMilli()}); err != nil {
		return store.User{}, "", nil, err
	}
	return u, token, hash, nil
}

func (s *Server) login(x *call, req *protocol.LoginReq) (*protocol.LoginResp, error) {
	u, token, tokenHash, err := s.authenticate(x, req)
	if err != nil {
		return nil, err
	}
	ctx := x.ctx()
	groups, err := s.store.GroupsOfUser(ctx, u.ID, maxGroups)
	if err != nil {
		return nil, err
	}
	// A login on a connection that already has a session replaces it.
	if old := x.cs.session(); old != nil {
		s.leaveAllRooms(x.cs)
		x.cs.sess.Store(nil)
		s.endSession(old, true)
	}
	sess := newSession(x.cs, toProfile(u), req.DeviceOrDefault(), tokenHash, s.node != nil)
	replaced, first := s.router.Attach(sess)
	x.cs.sess.Store(sess)
	metricSessions.Inc()
	if x.cs.closed.Load() {
		s.endSession(sess, true)
		return nil, nil
	}
	s.log.Info().Int64("user", u.ID).Str("device", sess.device).Str("remote", x.cs.remote).Uint64("conn", x.cs.id).
		Bool("by_token", req.Token != "").Msg("logged in")
	if replaced != nil {
		s.kick(replaced, x.cs.remote)
	}
	// In a cluster, the other nodes learn of the session before its
	// conversations are read, so a message they store after the read is
	// pushed here; and before the same device elsewhere is kicked, so the
	// directory never shows the user with no session in between.
	s.announce(ctx, sess)
	// The same device on another node is replaced too; the user stays
	// online here, so its end says nothing to friends.
	for _, si := range s.remoteSessions(u.ID) {
		if si.Device == sess.device {
			s.kickRemote(u.ID, si, protocol.KickReasonLoginElsewhere, x.cs.remote, true)
		}
	}
	// Friends and conversations are read after attaching: a change
	// committed from now on is either in these reads or reaches the
	// session (friend cache updates, held message pushes).
	cache := sess.friends.snapshot()
	friends, err := s.store.Friends(ctx, u.ID, maxFriends)
	if err != nil {
		s.endSession(sess, true)
		x.cs.sess.Store(nil)
		return nil, err
	}
	sess.friends.fill(cache, friendIDs(friends))
	convs, err := s.store.Conversations(ctx, u.ID, maxConvs)
	if err != nil {
		s.endSession(sess, true)
		x.cs.sess.Store(nil)
		return nil, err
	}
	if sess.gated() {
		// What the session has of each conversation: the backlog and
		// msg.sync cover what is not pushed up to here.
		for _, c := range convs {
			sess.admit(c.Conv, c.LastSeq)
		}
	}
	resp := &protocol.LoginResp{Status: protocol.OK(), UserID: u.ID, Token: token, Profile: toProfile(u),
		Friends: make([]protocol.Friend, 0, len(friends)), Groups: make([]protocol.Group, 0, len(groups)),
		Convs: make([]protocol.ConvInfo, 0, len(convs)), Server: s.serverInfo()}
	for _, f := range friends {
		resp.Friends = append(resp.Friends, protocol.Friend{Profile: toProfile(f), Online: s.router.Online(f.ID)})
	}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, toGroup(g))
	}
	for _, c := range convs {
		resp.Convs = append(resp.Convs, toConvInfo(c))
	}
	// A huge account must still get a reply within the frame limit: drop
	// last messages, then trim the lists (the full ones come from
	// conv.list, friend.list and group.list).
	x.fit(resp, func() bool {
		switch {
		case shrinkConvs(&resp.Convs):
		case len(resp.Friends) > 0:
			resp.Friends = resp.Friends[:len(resp.Friends)/2]
		case len(resp.Groups) > 0:
			resp.Groups = resp.Groups[:len(resp.Groups)/2]
		default:
			return false
		}
		return true
	})
	// The backlog follows the reply on the wire.
	x.then = func(sent bool) {
		if !sent {
			s.endSession(sess, true)
			x.cs.sess.Store(nil)
			return
		}
		if first {
			s.pushPresence(u.ID, friendIDs(friends))
		}
		s.sendBacklog(x, sess, convs)
		sess.endReplay()
	}
	return resp, nil
}

// errDisabled answers a login with the right credentials to an account an
// administrator disabled: FORBIDDEN ("exists, but may not"), not
// BAD_CREDENTIALS, so the client does not ask for the password again.
var errDisabled = protocol.NewError(protocol.CodeForbidden, "account disabled by the administrator")

// EnforceAccount reads the account from the store and ends, with kicked
// and a closed connection, each live session the store no longer allows:
// every session of a deleted account (reason account_deleted) or of an
// account an administrator disabled (revoked), and a session whose token
// the store no longer holds (revoked: `chatd user reset-password` revoked
// every token). In a cluster every other node does the same with its own
// sessions before this returns (or the bus timeout passes). It returns how
// many sessions it ended on this node. The admin listener calls it after
// chatd's offline user commands changed the store: it only applies what
// the store says, so calling it is always safe.
func (s *Server) EnforceAccount(ctx context.Context, userID int64) (int, error) {
	n, err := s.enforceLocal(ctx, userID)
	if err != nil {
		return n, err
	}
	s.broadcast(ctx, busEnforce, &busHeader{User: userID})
	return n, nil
}

// enforceLocal is EnforceAccount on this node's sessions only.
func (s *Server) enforceLocal(ctx context.Context, userID int64) (int, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return 0, err
	}
	now := time.Now().UnixMilli()
	n := 0
	for _, sess := range s.router.Sessions(userID) {
		reason := ""
		switch {
		case u.DeletedAt != 0:
			reason = protocol.KickReasonAccountDeleted
		case u.Disabled:
			reason = protocol.KickReasonRevoked
		default:
			_, err := s.store.Session(ctx, sess.tokenHash(), now)
			if errors.Is(err, store.ErrNotFound) {
				reason = protocol.KickReasonRevoked
			} else if err != nil {
				return n, err
			}
		}
		if reason == "" {
			continue
		}
		s.kickOut(sess, reason, "")
		n++
	}
	s.log.Info().Int64("user", userID).Bool("disabled", u.Disabled).Bool("deleted", u.DeletedAt != 0).
		Int("sessions", n).Msg("account enforced: sessions the store no longer allows kicked")
	return n, nil
}

// errNotDeleted answers EnforceDeletion for an account the store still
// holds.
var errNotDeleted = errors.New("the account is not deleted")

// EnforceDeletion applies, after `chatd user delete` deleted the account
// in the store, the effects account.delete has on live state (section 13):
// the account's sessions are kicked (account_deleted) and leave their
// rooms, online former friends get friend.removed, members of the groups
// it owned get group.event dismissed and those of the groups it was in get
// left. del is what store.DeleteAccount returned to the command; nothing
// in it is taken on trust: the account must be deleted in the store, a
// dismissed group must be gone from it, and a left group's members are
// read from the store (a group the account is still in is skipped). It
// returns how many sessions it kicked on this node (in a cluster the
// others kick theirs before it returns, see accountDeleted).
func (s *Server) EnforceDeletion(ctx context.Context, userID int64, del store.AccountDeletion) (int, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return 0, err
	}
	if u.DeletedAt == 0 {
		return 0, fmt.Errorf("user %d: %w", userID, errNotDeleted)
	}
	checked := store.AccountDeletion{Friends: del.Friends}
	for _, g := range del.Dismissed {
		if _, err := s.store.Group(ctx, g.GroupID); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return 0, err
			}
			continue
		}
		checked.Dismissed = append(checked.Dismissed, g)
	}
	for _, g := range del.Left {
		members, err := s.store.GroupMembers(ctx, g.GroupID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if slices.Contains(members, userID) {
			continue
		}
		checked.Left = append(checked.Left, store.GroupMembers{GroupID: g.GroupID, Members: members})
	}
	n := s.accountDeleted(userID, checked, nil, "")
	s.log.Info().Int64("user", userID).Int("sessions", n).Int("friends", len(checked.Friends)).
		Int("dismissed", len(checked.Dismissed)).Int("left", len(checked.Left)).Msg("account deletion enforced")
	return n, nil
}

// kick tells a replaced session's connection why and closes it.
func (s *Server) kick(old *Session, addr string) {
	s.log.Info().Int64("user", old.userID).Str("device", old.device).Str("remote", old.conn.remote).Uint64("conn", old.conn.id).
		Str("by_remote", addr).Msg("kicked: logged in elsewhere")
	old.conn.write(encodePush(protocol.OpKicked, &protocol.KickedPush{
		Reason: protocol.KickReasonLoginElsewhere, Addr: addr}))
	metricSessions.Dec()
	old.conn.closeNow("kicked: login elsewhere")
}

func (s *Server) logout(x *call, _ *protocol.LogoutReq) (*protocol.Status, error) {
	if err := s.store.DeleteSession(x.ctx(), x.sess.tokenHash()); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user", x.sess.userID).Str("device", x.sess.device).Str("remote", x.cs.remote).Uint64("conn", x.cs.id).Msg("logged out")
	s.leaveAllRooms(x.cs)
	x.cs.sess.Store(nil)
	s.endSession(x.sess, true)
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

// endSession detaches a session that ended (logout, close, re-login). When
// it was the user's last one, online friends learn it; that needs the
// store, so it runs on the pool unless the caller is already on a worker.
func (s *Server) endSession(sess *Session, onWorker bool) {
	s.endSessionOpt(sess, onWorker, false)
}

// endSessionOpt is endSession; quiet skips the presence notice (the user
// is known to be online on another node).
func (s *Server) endSessionOpt(sess *Session, onWorker, quiet bool) {
	removed, last := s.router.Detach(sess)
	if !removed {
		return
	}
	metricSessions.Dec()
	if !last || quiet {
		return
	}
	notify := func() {
		friends, err := s.store.Friends(s.ctx, sess.userID, maxFriends)
		if err != nil {
			s.log.Warn().Int64("user", sess.userID).Err(err).Msg("presence: friends")
			return
		}
		s.pushPresence(sess.userID, friendIDs(friends))
	}
	if onWorker {
		notify()
		return
	}
	s.async(sess.conn.id, "presence", notify)
}

// Account management (section 13): password change, the list and revoke of
// live sessions, and account deletion.

// checkPassword verifies the caller's password for account.password and
// account.delete; a wrong one is BAD_CREDENTIALS and counts as a failed
// login of the username and the address, a right one of a disabled account
// FORBIDDEN, as at login.
func (s *Server) checkPassword(x *call, password string) (store.User, error) {
	key := lowerASCII(x.sess.Profile().Username)
	if err := s.loginBlocked(key, x.cs.ip()); err != nil {
		return store.User{}, err
	}
	u, err := s.store.UserByID(x.ctx(), x.sess.userID)
	if err != nil {
		return store.User{}, err
	}
	err = s.hasher.Verify(x.ctx(), u.PasswordHash, password)
	switch {
	case err == nil && u.Disabled:
		// A session that outlived the disable (no admin listener told
		// this server) may not change or delete what an administrator
		// froze.
		return store.User{}, errDisabled
	case err == nil:
		return u, nil
	case errors.Is(err, auth.ErrMismatch) || errors.Is(err, auth.ErrMalformedHash):
		return store.User{}, s.loginFailed(key, x.cs.ip())
	default:
		return store.User{}, err
	}
}

// kickOut ends another live session of the user for reason: the kicked
// push, then the session leaves the router and its connection is closed.
func (s *Server) kickOut(sess *Session, reason, addr string) {
	sess.conn.write(encodePush(protocol.OpKicked, &protocol.KickedPush{Reason: reason, Addr: addr}))
	s.endSession(sess, true)
	sess.conn.closeNow("kicked: " + reason)
}

// kickOthers kicks every live session of the caller's user but its own,
// on every node.
func (s *Server) kickOthers(x *call, reason string) {
	for _, o := range s.router.Sessions(x.sess.userID) {
		if o != x.sess {
			s.kickOut(o, reason, x.cs.remote)
		}
	}
	for _, si := range s.remoteSessions(x.sess.userID) {
		s.kickRemote(x.sess.userID, si, reason, x.cs.remote, true)
	}
}

func (s *Server) accountPassword(x *call, req *protocol.AccountPasswordReq) (*protocol.AccountPasswordResp, error) {
	if _, err := s.checkPassword(x, req.OldPassword); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(x.ctx(), req.NewPassword)
	if err != nil {
		return nil, err
	}
	token, tokenHash, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if err := s.store.ChangePassword(x.ctx(), x.sess.userID, hash, store.Session{TokenHash: tokenHash,
		UserID: x.sess.userID, Device: x.sess.device, CreatedAt: now.UnixMilli(),
		ExpiresAt: now.Add(s.cfg.TokenTTL).UnixMilli()}); err != nil {
		return nil, err
	}
	x.sess.setTokenHash(tokenHash)
	s.kickOthers(x, protocol.KickReasonPasswordChanged)
	return &protocol.AccountPasswordResp{Status: protocol.OK(), Token: token}, nil
}

func (s *Server) accountSessions(x *call, _ *protocol.AccountSessionsReq) (*protocol.AccountSessionsResp, error) {
	ss := s.router.Sessions(x.sess.userID)
	resp := &protocol.AccountSessionsResp{Status: protocol.OK(), Sessions: make([]protocol.SessionInfo, 0, len(ss))}
	for _, o := range ss {
		resp.Sessions = append(resp.Sessions, protocol.SessionInfo{Device: o.device, Addr: o.conn.remote,
			Since: o.since, Current: o == x.sess})
	}
	for _, si := range s.remoteSessions(x.sess.userID) {
		resp.Sessions = append(resp.Sessions, protocol.SessionInfo{Device: si.Device, Addr: si.Addr, Since: si.Since})
	}
	return resp, nil
}

func (s *Server) accountRevoke(x *call, req *protocol.AccountRevokeReq) (*protocol.Status, error) {
	if req.Device == x.sess.device {
		return nil, protocol.BadRequest("device", "the calling device cannot revoke itself (use logout)")
	}
	tokens, err := s.store.RevokeDevice(x.ctx(), x.sess.userID, req.Device, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	live := false
	for _, o := range s.router.Sessions(x.sess.userID) {
		if o.device == req.Device {
			live = true
			s.kickOut(o, protocol.KickReasonRevoked, x.cs.remote)
		}
	}
	for _, si := range s.remoteSessions(x.sess.userID) {
		if si.Device == req.Device {
			live = true
			s.kickRemote(x.sess.userID, si, protocol.KickReasonRevoked, x.cs.remote, true)
		}
	}
	if tokens == 0 && !live {
		return nil, protocol.NewError(protocol.CodeNotFound, "no token or session on that device")
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

// accountDelete deletes the caller's account: the store forgets its
// friendships, owned groups and memberships, the people concerned are told,
// every other session is kicked, and the calling connection is closed after
// the reply.
func (s *Server) accountDelete(x *call, req *protocol.AccountDeleteReq) (*protocol.Status, error) {
	if _, err := s.checkPassword(x, req.Password); err != nil {
		return nil, err
	}
	me := x.sess.userID
	del, err := s.store.DeleteAccount(x.ctx(), me, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	s.accountDeleted(me, del, x.sess, x.cs.remote)
	cs, sess := x.cs, x.sess
	x.then = func(bool) {
		s.leaveAllRooms(cs)
		cs.sess.Store(nil)
		s.endSession(sess, true)
		cs.closeNow("account deleted")
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

// accountDeleted applies a committed account deletion to live state, for
// account.delete and EnforceDeletion alike: every session of the user but
// except is kicked (account_deleted, from addr) and leaves its rooms, on
// this node and, through the bus, on the others (which read the deletion
// from the store); former friends get friend.removed; the dismissed groups
// leave the cache and their members get group.event dismissed; the left
// groups lose the user and their members get left. It returns how many
// sessions it kicked on this node.
func (s *Server) accountDeleted(me int64, del store.AccountDeletion, except *Session, addr string) int {
	n := 0
	for _, o := range s.router.Sessions(me) {
		if o != except {
			s.kickOut(o, protocol.KickReasonAccountDeleted, addr)
			n++
		}
	}
	// The other nodes read the deletion from the store and kick theirs.
	s.broadcast(s.ctx, busEnforce, &busHeader{User: me})
	for _, f := range del.Friends {
		s.friendChanged(me, f, false)
		s.pushToUser(f, encodePush(protocol.OpFriendRemoved, &protocol.FriendRemovedPush{UserID: me}))
	}
	for _, g := range del.Dismissed {
		s.groups.drop(g.GroupID)
		s.groupEvent(g.Members, g.GroupID, protocol.GroupDismissed, me)
	}
	for _, g := range del.Left {
		s.groups.remove(g.GroupID, me)
		s.groupEvent(g.Members, g.GroupID, protocol.GroupLeft, me)
	}
	return n
}

// serverInfo is the login reply's server description: the features listed
// are those this server offers now.
func (s *Server) serverInfo() *protocol.ServerInfo {
	features := []string{protocol.FeatureWebSocket, protocol.FeatureRecall, protocol.FeatureTyping,
		protocol.FeatureSearch, protocol.FeatureMentions, protocol.FeatureGroupAdmin,
		protocol.FeatureAccount, protocol.FeatureRoomPaging}
	if s.cfg.TLS != nil {
		features = append(features, protocol.FeatureTLS)
	}
	if s.httpFiles.Load() {
		features = append(features, protocol.FeatureHTTPFiles)
	}
	if s.node != nil {
		features = append(features, protocol.FeatureCluster)
	}
	return &protocol.ServerInfo{Version: s.cfg.Version, Protocol: protocol.ProtocolVersion, Features: features}
}
