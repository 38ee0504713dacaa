package store

import (
	"context"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/rs/zerolog"
)

// DefaultLimit is the bound list methods use when given a limit <= 0.
const DefaultLimit = 1000

// Store is chatd's durable state: everything the protocol says survives a
// restart. Every method takes a context first and returns errors wrapped
// with context; callers test them with errors.Is against the sentinels in
// errors.go (ErrNotFound, ErrUnavailable, ...). List methods take a
// limit; limit <= 0 means DefaultLimit. Ids are int64 (positive, below
// 2^53); times are unix milliseconds. A Store is safe for concurrent use.
type Store interface {
	// CreateUser adds a user. Usernames are unique case-insensitively:
	// ErrUsernameTaken when the lower-cased name exists. passwordHash is
	// the encoded argon2id hash; the store never sees a password.
	CreateUser(ctx context.Context, username, nickname, passwordHash string, createdAt int64) (User, error)
	// UserByName finds a user by username, case-insensitively, with its
	// PasswordHash filled in (for login). ErrNotFound when absent or
	// deleted (a deleted account cannot log in; its name stays taken).
	UserByName(ctx context.Context, username string) (User, error)
	// UserByID finds a user by id (PasswordHash filled in), deleted ones
	// too (DeletedAt set, profile "deleted user"). ErrNotFound when absent.
	UserByID(ctx context.Context, id int64) (User, error)
	// UsersByIDs returns the users that exist among ids, keyed by id,
	// without PasswordHash. Missing ids are simply absent from the map.
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]User, error)
	// SearchUsers returns up to limit users whose username or nickname
	// starts with prefix (case-insensitive), ordered by username, without
	// PasswordHash. An empty prefix returns no users; deleted users are
	// never returned.
	SearchUsers(ctx context.Context, prefix string, limit int) ([]User, error)
	// UpdateProfile changes the fields set in upd and returns the updated
	// user (without PasswordHash). ErrNotFound when the user is absent.
	UpdateProfile(ctx context.Context, userID int64, upd ProfileUpdate) (User, error)
	// Avatar returns the user's avatar bytes, nil when it has none.
	// ErrNotFound when the user is absent.
	Avatar(ctx context.Context, userID int64) ([]byte, error)

	// CreateSession stores a login session. Only a hash of the token is
	// ever given to the store (the service hashes it with SHA-256).
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session stored under tokenHash. ErrNotFound
	// when absent or expired at now (unix ms).
	Session(ctx context.Context, tokenHash []byte, now int64) (Session, error)
	// SessionUser is a token login's read: the session stored under
	// tokenHash with its user, in one query, when that user is named
	// username (case-insensitively) and not deleted. The user comes without
	// its password hash. ErrNotFound when there is no such session, it
	// expired at now (unix ms), or it belongs to another or a deleted user.
	SessionUser(ctx context.Context, username string, tokenHash []byte, now int64) (User, Session, error)
	// DeleteSession revokes a session; deleting an absent one is not an error.
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// SetUserDisabled disables or enables an account (an administrator's
	// decision, not the user's). Disabling also deletes every session
	// (token) of the user in the same transaction, so no token outlives
	// it. ErrNotFound when the user is absent.
	SetUserDisabled(ctx context.Context, userID int64, disabled bool) error
	// ListUsers returns up to limit users with id > afterID, ascending by
	// id, without PasswordHash (pages for chatd user list).
	ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error)
	// PruneSessions deletes sessions that expired before now and returns
	// how many it deleted.
	PruneSessions(ctx context.Context, now int64) (int64, error)
	// ChangePassword replaces the user's password hash, revokes every
	// session (token) of the user and stores keep (the calling device's
	// new session; its UserID must be userID), all in one transaction.
	// A zero keep (no TokenHash) stores no session: an administrator's
	// reset (chatd user reset-password) leaves the user no token at all.
	// ErrNotFound when the user is absent or deleted.
	ChangePassword(ctx context.Context, userID int64, passwordHash string, keep Session) error
	// RevokeDevice deletes every session (token) of the user's device and
	// returns how many of them were still valid at now: 0 means the device
	// had no token (account.revoke's NOT_FOUND when it has no live session
	// either).
	RevokeDevice(ctx context.Context, userID int64, device string, now int64) (int, error)
	// DeleteAccount deletes an account, in one transaction: the user can no
	// longer log in (UserByName: ErrNotFound; every session revoked), its
	// username stays taken, its profile becomes nickname DeletedNickname
	// with empty signature and avatar (DeletedAt = ts); its friendships and
	// pending friend requests are removed; the groups it owns are dismissed
	// and it leaves every other conversation. Messages it sent stay. It
	// returns who is to be told (friend.removed, group.event). ErrNotFound
	// when the user is absent or already deleted.
	DeleteAccount(ctx context.Context, userID int64, ts int64) (AccountDeletion, error)

	// CreateFriendRequest records a pending request from -> to.
	// ErrNotFound when either user is absent, ErrAlreadyFriends when they
	// are friends, ErrRequestPending when a request is pending between them
	// in either direction.
	CreateFriendRequest(ctx context.Context, from, to int64, note string, ts int64) (FriendRequest, error)
	// FriendRequest returns one request by id. ErrNotFound when absent.
	FriendRequest(ctx context.Context, id int64) (FriendRequest, error)
	// RespondFriendRequest atomically marks a pending request accepted or
	// rejected. On accept it also makes the two users friends both ways and
	// creates their p: conversation with membership rows for both (kept if
	// it already exists from an earlier friendship). ErrNotFound when
	// absent, ErrNotPending when already answered.
	RespondFriendRequest(ctx context.Context, id int64, accept bool, ts int64) (FriendRequest, error)
	// PendingFriendRequests returns the pending requests to the user
	// (incoming) and from the user (outgoing), oldest first, at most limit
	// of each.
	PendingFriendRequests(ctx context.Context, userID int64, limit int) (incoming, outgoing []FriendRequest, err error)
	// FriendNotices returns, in one read, what a login owes the user about
	// friend requests: the pending requests to it (incoming) and the
	// answered requests it sent whose answer has not yet been pushed to it
	// (answered: the friend.responded pushes owed after the next login).
	// Each list has at most limit requests, oldest first (when more
	// answers are owed, which come first is unspecified: the rest come
	// once these are marked notified).
	FriendNotices(ctx context.Context, userID int64, limit int) (incoming, answered []FriendRequest, err error)
	// MarkResponsesNotified records that the answers to these requests were
	// pushed, so FriendNotices no longer returns them. Call it both
	// after a live push (requester online) and after the post-login push.
	MarkResponsesNotified(ctx context.Context, ids []int64) error
	// Friends returns the user's friends with their profiles (without
	// PasswordHash), ordered by id, at most limit.
	Friends(ctx context.Context, userID int64, limit int) ([]User, error)
	// AreFriends reports whether a and b are friends.
	AreFriends(ctx context.Context, a, b int64) (bool, error)
	// RemoveFriend ends the friendship both ways; the p: conversation and
	// its history stay. ErrNotFound when they are not friends.
	RemoveFriend(ctx context.Context, a, b int64) error

	// CreateGroup creates a group owned by owner, with owner and members
	// (duplicates ignored) as members, and its g: conversation. The store
	// does not check that members exist or are the owner's friends: the
	// service does.
	CreateGroup(ctx context.Context, name string, owner int64, members []int64, ts int64) (Group, error)
	// Group returns a group with its MemberCount. ErrNotFound when absent
	// or dismissed.
	Group(ctx context.Context, groupID int64) (Group, error)
	// JoinGroup adds user to the group and returns the group with the new
	// MemberCount. ErrNotFound when the group is absent, ErrAlreadyMember
	// when the user is a member.
	JoinGroup(ctx context.Context, groupID, userID int64, ts int64) (Group, error)
	// LeaveGroup removes user from the group (leave and kick), with its
	// role and mute. ErrNotFound when the group is absent or the user is
	// not a member.
	LeaveGroup(ctx context.Context, groupID, userID int64) error
	// DismissGroup deletes the group and all its memberships; its messages
	// stay. ErrNotFound when absent.
	DismissGroup(ctx context.Context, groupID int64) error
	// GroupMembers returns the ids of the group's members, ascending.
	// ErrNotFound when the group is absent.
	GroupMembers(ctx context.Context, groupID int64) ([]int64, error)
	// GroupsOfUser returns the groups the user is a member of, with
	// MemberCount, ordered by id, at most limit.
	GroupsOfUser(ctx context.Context, userID int64, limit int) ([]Group, error)
	// IsGroupMember reports whether user is a member of the group.
	IsGroupMember(ctx context.Context, groupID, userID int64) (bool, error)
	// UpdateGroup changes the name and/or notice set in upd and returns
	// the group. ErrNotFound when the group is absent.
	UpdateGroup(ctx context.Context, groupID int64, upd GroupUpdate) (Group, error)
	// GroupMember returns one member with its role and mute. ErrNotFound
	// when the group is absent or the user is not a member.
	GroupMember(ctx context.Context, groupID, userID int64) (Member, error)
	// GroupMemberList returns the group's members with their roles and
	// mutes, ascending by user id. ErrNotFound when the group is absent.
	GroupMemberList(ctx context.Context, groupID int64) ([]Member, error)
	// SetMemberRole makes a member RoleAdmin or RoleMember. ErrNotFound
	// when the group is absent or the user is not a member; ErrIsOwner for
	// the owner (whose role only TransferGroup changes).
	SetMemberRole(ctx context.Context, groupID, userID int64, role Role) error
	// MuteMember sets a member's muted_until (unix ms; 0 lifts the mute).
	// ErrNotFound when the group is absent or the user is not a member.
	MuteMember(ctx context.Context, groupID, userID int64, until int64) error
	// TransferGroup makes member to the owner and the old owner, from, an
	// admin, atomically. ErrNotFound when the group is absent or to is not
	// a member; ErrNotOwner when from is not (or no longer) the owner.
	TransferGroup(ctx context.Context, groupID, from, to int64) error

	// AppendMessage durably appends a message to its conversation and
	// returns it with its msg id and seq, the next of the conversation:
	// gapless and unique even with many concurrent callers and several
	// processes on one MySQL database. It returns only after the commit.
	// A repeated (From, ClientMsgID) returns the original message and
	// duplicate=true without storing anything. When the sender's ack
	// cursor for the conversation stood at seq-1 it moves to seq in the
	// same transaction. Appends are group-committed: concurrent calls share
	// one transaction; when it fails every caller in it gets the error and
	// nothing of the batch is written. ErrNotFound when the conversation
	// does not exist, or when ReplyTo is not a seq of it; ErrUnavailable
	// when the database cannot be reached. Mentions and MentionAll are
	// stored as given (the service checks them). Type "recall" is for
	// RecallMessage only.
	AppendMessage(ctx context.Context, m NewMessage) (msg Message, duplicate bool, err error)
	// RecallMessage recalls message seq of conv on behalf of user by (the
	// service has checked the permission): through the same group commit
	// as AppendMessage, in one transaction, it appends a message of type
	// "recall" from by, body the recalled seq in decimal, no client_msg_id,
	// with the conversation's next seq, and marks the original recalled:
	// from then on it reads back with type "recalled" and body "" (mentions
	// and reply_to kept), it no longer counts for mention seqs or search,
	// and a recalled file message marks its file Recalled. It returns the
	// recall message. ErrNotFound when there is no such seq;
	// ErrNotRecallable for a message of type "recall"; for a message
	// already recalled, an error wrapping ErrAlreadyRecalled together with
	// the existing recall message (so a retry learns its seq).
	RecallMessage(ctx context.Context, conv protocol.ConvID, seq, by int64, ts int64) (Message, error)
	// MessageAt returns message seq of conv (as stored: a recalled one
	// reads "recalled"). ErrNotFound when absent.
	MessageAt(ctx context.Context, conv protocol.ConvID, seq int64) (Message, error)
	// SearchMessages returns the text messages, not recalled, whose body
	// contains q.Query case-insensitively (any script, no word boundaries),
	// in the conversations user q.User is a member of now (or in q.Conv
	// alone, when valid: the caller checks membership), with msg id below
	// q.BeforeID when it is > 0, by msg id descending, at most q.Limit
	// (1..MaxSearchLimit, default DefaultSearchLimit); more reports that
	// further matches exist below the last one returned.
	SearchMessages(ctx context.Context, q SearchQuery) (msgs []Message, more bool, err error)
	// Message returns one message by msg id. ErrNotFound when absent.
	Message(ctx context.Context, msgID int64) (Message, error)
	// Messages returns up to limit messages of conv with seq > afterSeq,
	// ascending by seq (missed messages: afterSeq = the ack cursor).
	Messages(ctx context.Context, conv string, afterSeq int64, limit int) ([]Message, error)
	// Conversations returns the user's conversations with their last seq,
	// the user's ack and read cursors, mention seq and the last message, most recently
	// active first. At most limit are returned; a user in more than limit
	// conversations gets the first limit by conversation id (the bound
	// comes from an index; activity order does not).
	Conversations(ctx context.Context, userID int64, limit int) ([]ConvInfo, error)
	// ConvMembers returns the ids of the conversation's members, ascending.
	ConvMembers(ctx context.Context, conv string) ([]int64, error)
	// IsConvMember reports whether user is a member of conv.
	IsConvMember(ctx context.Context, userID int64, conv string) (bool, error)
	// Ack moves the user's ack cursor of conv forward to seq (clamped to the
	// conversation's last seq); it never moves back. ErrNotFound when the
	// user is not a member of conv.
	Ack(ctx context.Context, userID int64, conv string, seq int64) error
	// MarkRead moves the user's read cursor of conv forward to seq (clamped
	// to the last seq); never back. ErrNotFound when not a member.
	MarkRead(ctx context.Context, userID int64, conv string, seq int64) error

	// CreateFile records the metadata of an offered file (bytes live on
	// disk, managed by the service) and returns it with its id.
	CreateFile(ctx context.Context, f FileMeta) (FileMeta, error)
	// File returns one file's metadata. ErrNotFound when absent.
	File(ctx context.Context, fileID int64) (FileMeta, error)
	// MarkFileComplete records that the file's bytes were fully received
	// and verified at ts. ErrNotFound when absent.
	MarkFileComplete(ctx context.Context, fileID int64, ts int64) error

	// Ping reports whether the database answers now (for readiness
	// probes): ErrClosed after Close, ErrUnavailable wrapping the cause
	// when it does not answer before ctx ends.
	Ping(ctx context.Context) error

	// Close lets the group committer finish the batch it is writing, fails
	// appends still queued with ErrClosed and closes the database.
	// AppendMessage after Close returns ErrClosed; other methods return an
	// error. Closing twice is a no-op.
	Close() error
}

// User is an account with its profile.
type User struct {
	ID       int64
	Username string // as registered (case kept)
	Nickname string
	// Signature is the user's free-text status line.
	Signature string
	// AvatarSHA256 is the lowercase hex SHA-256 of the avatar, "" when none.
	AvatarSHA256 string
	// PasswordHash is the encoded argon2id hash; filled only by UserByName
	// and UserByID.
	PasswordHash string
	CreatedAt    int64
	// DeletedAt is when the account was deleted, 0 while it is not.
	DeletedAt int64
	// Disabled is set while an administrator has disabled the account: it
	// cannot log in (see SetUserDisabled).
	Disabled bool
}

// DeletedNickname is the nickname a deleted account shows.
const DeletedNickname = "deleted user"

// AccountDeletion is what DeleteAccount changed, for the notices the
// service pushes. Its JSON form is the body chatd user delete sends to a
// running chatd's admin listener (POST /accounts/{id}/deleted).
type AccountDeletion struct {
	// Friends are the users who were friends (each gets friend.removed).
	Friends []int64 `json:"friends"`
	// Dismissed are the groups the user owned, each with the members it
	// had besides the user (group.event dismissed).
	Dismissed []GroupMembers `json:"dismissed"`
	// Left are the groups the user was a plain member or admin of, each
	// with the members that remain (group.event left).
	Left []GroupMembers `json:"left"`
}

// GroupMembers is a group id with a list of member ids, ascending.
type GroupMembers struct {
	GroupID int64   `json:"group_id"`
	Members []int64 `json:"members"`
}

// ProfileUpdate lists the profile fields to change; nil or unset fields
// stay as they are.
type ProfileUpdate struct {
	Nickname  *string
	Signature *string
	// SetAvatar replaces the avatar with Avatar (nil or empty clears it);
	// the store computes AvatarSHA256.
	SetAvatar bool
	Avatar    []byte
}

// Session is a login session, stored under the SHA-256 of its token.
type Session struct {
	TokenHash []byte
	UserID    int64
	Device    string
	CreatedAt int64
	ExpiresAt int64
}

// RequestStatus is the state of a friend request.
type RequestStatus int

// Friend request states.
const (
	RequestPending  RequestStatus = 0
	RequestAccepted RequestStatus = 1
	RequestRejected RequestStatus = 2
)

// FriendRequest is a friend request and, once answered, its answer.
type FriendRequest struct {
	ID          int64
	From        int64
	To          int64
	Note        string
	Status      RequestStatus
	CreatedAt   int64
	RespondedAt int64 // 0 while pending
}

// Group is a chat group. Its conversation id is protocol.GroupConv(ID).
type Group struct {
	ID          int64
	Name        string
	Owner       int64
	MemberCount int
	CreatedAt   int64
	// Notice is the group's notice board text, "" when none.
	Notice string
}

// GroupUpdate lists the group fields to change; nil fields stay.
type GroupUpdate struct {
	Name   *string
	Notice *string
}

// Role is a member's role in a group, as the protocol spells it.
type Role string

// Group roles. The owner is the group's Owner; every other member is an
// admin or a plain member.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Member is one member of a group.
type Member struct {
	UserID int64
	Role   Role
	// MutedUntil is when the member's mute ends (unix ms), 0 when never
	// muted; a past time means no longer muted.
	MutedUntil int64
	JoinedAt   int64
}

// NewMessage is a message to append. TS is the server time (unix ms) the
// service assigns (0: the store uses the current time); ClientMsgID "" disables idempotency for that message
// (for example messages the server generates itself).
type NewMessage struct {
	Conv        string
	From        int64
	Type        string
	Body        string
	ClientMsgID string
	TS          int64
	// Mentions are the user ids the message mentions (group messages, at
	// most MaxMentions);
	// MentionAll mentions every member. ReplyTo is the seq of the message
	// it quotes, 0 for none.
	Mentions   []int64
	MentionAll bool
	ReplyTo    int64
}

// MaxMentions is the most user ids one message may mention.
const MaxMentions = 50

// Message is a stored message. A recalled message reads back with Type
// TypeRecalled and Body "" (Mentions and ReplyTo kept).
type Message struct {
	ID          int64
	Conv        string
	Seq         int64
	From        int64
	TS          int64
	Type        string
	Body        string
	ClientMsgID string
	Mentions    []int64 // nil when none
	MentionAll  bool
	ReplyTo     int64
}

// Message types the store itself gives meaning to.
const (
	TypeText     = "text"
	TypeFile     = "file"
	TypeRecall   = "recall"
	TypeRecalled = "recalled"
)

// Search limits (msg.search).
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 50
)

// SearchQuery is a message search (see SearchMessages).
type SearchQuery struct {
	User  int64
	Query string
	// Conv, when valid, limits the search to that conversation.
	Conv     protocol.ConvID
	BeforeID int64
	Limit    int
}

// ConvInfo is one conversation as seen by one user.
type ConvInfo struct {
	Conv    string
	LastSeq int64
	AckSeq  int64
	ReadSeq int64
	// MentionSeq is the highest seq above ReadSeq whose message, not
	// recalled and not sent by the user, mentions the user or all; 0 when
	// none.
	MentionSeq int64
	// Last is the conversation's newest message, nil when it has none.
	Last *Message
}

// FileMeta is the metadata of a transferred file.
type FileMeta struct {
	ID        int64
	Owner     int64
	Conv      string
	Name      string
	Size      int64
	SHA256    string // lowercase hex
	CreatedAt int64
	// CompletedAt is when the upload was verified, 0 while incomplete.
	CompletedAt int64
	// Recalled is set when the file's message was recalled: the file can
	// no longer be fetched.
	Recalled bool
	// Node is the cluster node that took the upload and holds the bytes
	// ("" on a single server).
	Node string
}

// Config selects and tunes a backend.
type Config struct {
	// Driver is "sqlite" (the embedded default when empty) or "mysql".
	Driver string
	// DSN is the go-sql-driver/mysql DSN for "mysql", e.g.
	// root:@tcp(127.0.0.1:3306)/chatd?charset=utf8mb4&collation=utf8mb4_unicode_ci
	// (the store turns on clientFoundRows and interpolateParams itself; the
	// database must exist).
	// For "sqlite" it may name the database file directly; otherwise
	// DataDir/chatd.db is used.
	DSN string
	// DataDir is where the SQLite file lives (created if missing).
	DataDir string
	// BatchSize is the most appends one group commit holds (default 512).
	BatchSize int
	// BatchWindow is the longest a committer waits for more appends
	// before it commits (default 500µs). It waits only when recent batches
	// held several appends (so a lone sender is never delayed), and only
	// until the batch is as large as the largest of the last 8: the senders
	// answered by the previous commit then ride in this one. Negative: never
	// wait (commit whatever queued while the previous batch committed).
	BatchWindow time.Duration
	// Committers is how many group-commit workers commit batches in
	// parallel (default 1). Conversations are spread over the workers by
	// hash, so their batches never contend for a conversation lock. More
	// than 1 only helps MySQL (round trips overlap and the server merges
	// log flushes); SQLite has one writer, so keep 1 there.
	Committers int
	// MaxOpenConns caps the read pool (default 16 for MySQL, 4 for SQLite).
	MaxOpenConns int
	// Logger receives warnings about failed batches (nil: no logging).
	Logger *zerolog.Logger
	// SQLiteSynchronous is the SQLite synchronous pragma: "FULL"
	// (default: an fsync per committed batch, so an acknowledged message
	// survives a power loss too, as on MySQL) or "NORMAL" (survives a
	// crash or kill -9 of the process, not a power loss or OS crash; no
	// fsync per batch, so faster, most of all for a lone sender).
	SQLiteSynchronous string
	// OnBatch, when set, is called by a committer after each batch it
	// wrote (or failed to write) with the number of appends in it and how
	// long the transaction took, retries and the fsync included: the
	// data behind batch-size and commit-time metrics. It runs on the
	// committer goroutine before the senders are answered, so it must be
	// quick and must not call the store.
	OnBatch func(size int, d time.Duration)
	// noSearchIndex makes a MySQL store ignore Mroonga (tests of the
	// fallback).
	noSearchIndex bool
	// ftsDelay replaces ftsDelay, how long SQLite's search indexer lets
	// committed messages gather, and waits before it retries a failed
	// batch (tests: an hour, so that past what a previous process left,
	// only ftsIndexer.flush indexes).
	ftsDelay time.Duration
	// searchWindow replaces defaultSearchWindow (tests; negative: none).
	searchWindow int64
	// searchChunk replaces defaultSearchChunk (tests).
	searchChunk int
}
