package store

import "errors"

// Sentinel errors. Methods wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the user, session, request, group, conversation,
	// message or file does not exist (or the membership asked about).
	ErrNotFound = errors.New("store: not found")
	// ErrUsernameTaken: a user with that name (case-insensitive) exists.
	ErrUsernameTaken = errors.New("store: username taken")
	// ErrAlreadyFriends: the two users are already friends.
	ErrAlreadyFriends = errors.New("store: already friends")
	// ErrRequestPending: a friend request between the two is pending.
	ErrRequestPending = errors.New("store: friend request pending")
	// ErrNotPending: the friend request was already answered.
	ErrNotPending = errors.New("store: friend request not pending")
	// ErrAlreadyMember: the user is already a member of the group.
	ErrAlreadyMember = errors.New("store: already a member")
	// ErrUnavailable: the database cannot be reached or failed; the
	// operation did not happen (or, for a commit whose answer was lost,
	// may have: idempotency keys make a retry safe). The cause is wrapped
	// too. Retry later; the store reconnects by itself.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrSchemaTooNew: the database was written by a newer chatd; refuse to
	// touch it.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this chatd")
	// ErrAlreadyRecalled: the message was already recalled.
	ErrAlreadyRecalled = errors.New("store: message already recalled")
	// ErrNotRecallable: the message is itself a recall.
	ErrNotRecallable = errors.New("store: a recall cannot be recalled")
	// ErrIsOwner: the member is the group's owner, whose role only a
	// transfer changes.
	ErrIsOwner = errors.New("store: the user is the group's owner")
	// ErrNotOwner: the user is not the group's owner.
	ErrNotOwner = errors.New("store: the user is not the group's owner")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)
