package protocol

import (
	"strconv"
)

// ConvKind tells a private conversation from a group one.
type ConvKind uint8

// Conversation kinds.
const (
	ConvPrivate ConvKind = 1 // "p:<a>:<b>", two users, a < b
	ConvGroup   ConvKind = 2 // "g:<group_id>"
)

// ConvID is a parsed conversation id. The zero value is invalid.
type ConvID struct {
	kind ConvKind
	a, b int64 // private: the two user ids, a < b; group: a is the group id
}

// PrivateConv returns the id of the conversation between users x and y in
// canonical order ("p:<smaller>:<larger>"). The ids must differ and be
// valid ids; ParseConv rejects anything else.
func PrivateConv(x, y int64) string {
	if x > y {
		x, y = y, x
	}
	b := make([]byte, 0, 40)
	b = append(b, 'p', ':')
	b = strconv.AppendInt(b, x, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, y, 10)
	return string(b)
}

// GroupConv returns the id of group groupID's conversation: "g:<id>".
func GroupConv(groupID int64) string {
	return "g:" + strconv.FormatInt(groupID, 10)
}

// NewPrivateConv returns the ConvID of users x and y, checking both ids.
func NewPrivateConv(x, y int64) (ConvID, error) {
	if err := CheckID("user_id", x); err != nil {
		return ConvID{}, err
	}
	if err := CheckID("user_id", y); err != nil {
		return ConvID{}, err
	}
	if x == y {
		return ConvID{}, BadRequest("conv", "a private conversation needs two different users")
	}
	if x > y {
		x, y = y, x
	}
	return ConvID{kind: ConvPrivate, a: x, b: y}, nil
}

// NewGroupConv returns the ConvID of a group, checking the id.
func NewGroupConv(groupID int64) (ConvID, error) {
	if err := CheckID("group_id", groupID); err != nil {
		return ConvID{}, err
	}
	return ConvID{kind: ConvGroup, a: groupID}, nil
}

// ParseConv parses and validates a conversation id: "p:<a>:<b>" with
// 0 < a < b < 2^53, or "g:<id>" with 0 < id < 2^53, decimal without sign or
// leading zeros. Errors are BAD_REQUEST naming the field "conv".
func ParseConv(s string) (ConvID, error) {
	if len(s) < 3 || s[1] != ':' {
		return ConvID{}, BadRequest("conv", "not a conversation id")
	}
	switch s[0] {
	case 'g':
		id, ok := parseID(s[2:])
		if !ok {
			return ConvID{}, BadRequest("conv", "bad group id")
		}
		return ConvID{kind: ConvGroup, a: id}, nil
	case 'p':
		rest := s[2:]
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' {
				a, okA := parseID(rest[:i])
				b, okB := parseID(rest[i+1:])
				if !okA || !okB {
					return ConvID{}, BadRequest("conv", "bad user id")
				}
				if a >= b {
					return ConvID{}, BadRequest("conv", "user ids must be in increasing order")
				}
				return ConvID{kind: ConvPrivate, a: a, b: b}, nil
			}
		}
	}
	return ConvID{}, BadRequest("conv", "not a conversation id")
}

// parseID parses a canonical decimal id: digits only, no leading zero,
// 0 < id < 2^53.
func parseID(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 16 || s[0] == '0' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n < MaxID
}

// Kind returns ConvPrivate or ConvGroup (0 for the zero ConvID).
func (c ConvID) Kind() ConvKind { return c.kind }

// IsPrivate reports whether c is a conversation between two users.
func (c ConvID) IsPrivate() bool { return c.kind == ConvPrivate }

// IsGroup reports whether c is a group conversation.
func (c ConvID) IsGroup() bool { return c.kind == ConvGroup }

// Valid reports whether c was built by ParseConv or a constructor.
func (c ConvID) Valid() bool { return c.kind != 0 }

// Users returns the two user ids of a private conversation, smaller first
// (0, 0 for a group).
func (c ConvID) Users() (a, b int64) {
	if c.kind != ConvPrivate {
		return 0, 0
	}
	return c.a, c.b
}

// GroupID returns the group id of a group conversation (0 for private).
func (c ConvID) GroupID() int64 {
	if c.kind != ConvGroup {
		return 0
	}
	return c.a
}

// Peer returns the other user of a private conversation that includes user
// me, or 0 when me is not one of its users or c is not private.
func (c ConvID) Peer(me int64) int64 {
	if c.kind != ConvPrivate {
		return 0
	}
	switch me {
	case c.a:
		return c.b
	case c.b:
		return c.a
	}
	return 0
}

// Has reports whether user is one of the two users of a private
// conversation (always false for groups: membership lives in the store).
func (c ConvID) Has(user int64) bool {
	return c.kind == ConvPrivate && (user == c.a || user == c.b)
}

// String returns the canonical wire form ("" for the zero ConvID).
func (c ConvID) String() string {
	switch c.kind {
	case ConvPrivate:
		return PrivateConv(c.a, c.b)
	case ConvGroup:
		return GroupConv(c.a)
	}
	return ""
}
