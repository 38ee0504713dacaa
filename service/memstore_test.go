package service

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// memStore is a small in-memory store.Store for load tests: the race
// detector makes the embedded SQLite store some 20-50x slower, which would
// measure SQLite rather than the service. It implements what login, group
// messages and presence use; any other method panics through the nil
// embedded interface (the service then answers INTERNAL and the test fails).
type memStore struct {
	store.Store // nil: unimplemented methods panic

	mu       sync.Mutex
	users    map[int64]store.User
	byName   map[string]int64
	groups   map[int64]store.Group
	members  map[int64][]int64
	msgs     map[string][]store.Message
	acks     map[string]map[int64]int64 // conv -> user -> ack
	idem     map[string]store.Message   // from/client_msg_id
	nextID   int64
	sessions map[string]store.Session
}

func newMemStore() *memStore {
	return &memStore{users: map[int64]store.User{}, byName: map[string]int64{}, groups: map[int64]store.Group{},
		members: map[int64][]int64{}, msgs: map[string][]store.Message{}, acks: map[string]map[int64]int64{},
		idem: map[string]store.Message{}, sessions: map[string]store.Session{}}
}

func (m *memStore) id() int64 { m.nextID++; return m.nextID }

func (m *memStore) CreateUser(_ context.Context, username, nickname, hash string, at int64) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byName[strings.ToLower(username)]; ok {
		return store.User{}, store.ErrUsernameTaken
	}
	u := store.User{ID: m.id(), Username: username, Nickname: nickname, PasswordHash: hash, CreatedAt: at}
	m.users[u.ID] = u
	m.byName[strings.ToLower(username)] = u.ID
	return u, nil
}

func (m *memStore) UserByName(_ context.Context, username string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byName[strings.ToLower(username)]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return m.users[id], nil
}

func (m *memStore) CreateSession(_ context.Context, s store.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[string(s.TokenHash)] = s
	return nil
}

func (m *memStore) Friends(context.Context, int64, int) ([]store.User, error) { return nil, nil }

func (m *memStore) PendingFriendRequests(context.Context, int64, int) ([]store.FriendRequest, []store.FriendRequest, error) {
	return nil, nil, nil
}

func (m *memStore) FriendNotices(context.Context, int64, int) ([]store.FriendRequest, []store.FriendRequest, error) {
	return nil, nil, nil
}

func (m *memStore) CreateGroup(_ context.Context, name string, owner int64, members []int64, ts int64) (store.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := store.Group{ID: m.id(), Name: name, Owner: owner, MemberCount: 1 + len(members), CreatedAt: ts}
	m.groups[g.ID] = g
	m.members[g.ID] = append([]int64{owner}, members...)
	m.acks[protocol.GroupConv(g.ID)] = map[int64]int64{}
	return g, nil
}

func (m *memStore) GroupMembers(_ context.Context, id int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.members[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]int64(nil), ms...), nil
}

func (m *memStore) GroupsOfUser(_ context.Context, user int64, _ int) ([]store.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Group
	for id, ms := range m.members {
		for _, u := range ms {
			if u == user {
				out = append(out, m.groups[id])
			}
		}
	}
	return out, nil
}

func (m *memStore) Conversations(_ context.Context, user int64, _ int) ([]store.ConvInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.ConvInfo
	for id, ms := range m.members {
		for _, u := range ms {
			if u == user {
				conv := protocol.GroupConv(id)
				ci := store.ConvInfo{Conv: conv, LastSeq: int64(len(m.msgs[conv])), AckSeq: m.acks[conv][user]}
				out = append(out, ci)
			}
		}
	}
	return out, nil
}

func (m *memStore) Messages(_ context.Context, conv string, after int64, limit int) ([]store.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.msgs[conv]
	if after >= int64(len(all)) {
		return nil, nil
	}
	out := all[after:]
	if len(out) > limit {
		out = out[:limit]
	}
	return append([]store.Message(nil), out...), nil
}

func (m *memStore) AppendMessage(_ context.Context, nm store.NewMessage) (store.Message, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strconv.FormatInt(nm.From, 10) + "/" + nm.ClientMsgID
	if old, ok := m.idem[key]; ok && nm.ClientMsgID != "" {
		return old, true, nil
	}
	acks, ok := m.acks[nm.Conv]
	if !ok {
		return store.Message{}, false, store.ErrNotFound
	}
	seq := int64(len(m.msgs[nm.Conv])) + 1
	msg := store.Message{ID: m.id(), Conv: nm.Conv, Seq: seq, From: nm.From, TS: nm.TS, Type: nm.Type, Body: nm.Body, ClientMsgID: nm.ClientMsgID}
	m.msgs[nm.Conv] = append(m.msgs[nm.Conv], msg)
	if acks[nm.From] == seq-1 {
		acks[nm.From] = seq
	}
	m.idem[key] = msg
	return msg, false, nil
}

// GroupMember reports every member as a plain member, never muted (the
// load tests never mute).
func (m *memStore) GroupMember(_ context.Context, groupID, userID int64) (store.Member, error) {
	return store.Member{UserID: userID, Role: store.RoleMember}, nil
}
