package service

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// Rooms holds the live rooms (meetings) of one node: nothing in them is
// stored. Members are sessions. A room with no members is gone. The
// in-memory implementation is the default; a multi-node version can replace
// it.
type Rooms interface {
	// Create makes a room named name with s as its only member.
	Create(name string, s *Session) int64
	// Join adds s to the room and returns the members, s included.
	// ErrRoomNotFound, ErrAlreadyInRoom.
	Join(roomID int64, s *Session) ([]*Session, error)
	// Leave removes s and returns the remaining members. ErrRoomNotFound,
	// ErrNotInRoom.
	Leave(roomID int64, s *Session) ([]*Session, error)
	// Members returns the room's members (shared; do not modify) and
	// whether s is one of them. ErrRoomNotFound.
	Members(roomID int64, s *Session) (members []*Session, in bool, err error)
}

// Room errors.
var (
	ErrRoomNotFound  = errors.New("service: room not found")
	ErrAlreadyInRoom = errors.New("service: already in the room")
	ErrNotInRoom     = errors.New("service: not in the room")
)

// memRooms keeps rooms in a sync.Map; each room's member list is a
// copy-on-write slice behind an atomic pointer, so a media relay reads it
// without a lock.
type memRooms struct {
	nextID atomic.Int64
	rooms  sync.Map // int64 -> *room
}

type room struct {
	name    string
	mu      sync.Mutex
	gone    bool
	members atomic.Pointer[[]*Session]
}

func newMemRooms() *memRooms { return &memRooms{} }

// Create implements Rooms.
func (r *memRooms) Create(name string, s *Session) int64 {
	id := r.nextID.Add(1)
	rm := &room{name: name}
	m := []*Session{s}
	rm.members.Store(&m)
	r.rooms.Store(id, rm)
	return id
}

func (r *memRooms) get(id int64) (*room, error) {
	v, ok := r.rooms.Load(id)
	if !ok {
		return nil, ErrRoomNotFound
	}
	return v.(*room), nil
}

// Join implements Rooms.
func (r *memRooms) Join(id int64, s *Session) ([]*Session, error) {
	rm, err := r.get(id)
	if err != nil {
		return nil, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.gone {
		return nil, ErrRoomNotFound
	}
	cur := *rm.members.Load()
	if slices.Contains(cur, s) {
		return nil, ErrAlreadyInRoom
	}
	next := append(slices.Clone(cur), s)
	rm.members.Store(&next)
	return next, nil
}

// Leave implements Rooms.
func (r *memRooms) Leave(id int64, s *Session) ([]*Session, error) {
	rm, err := r.get(id)
	if err != nil {
		return nil, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.gone {
		return nil, ErrRoomNotFound
	}
	cur := *rm.members.Load()
	i := slices.Index(cur, s)
	if i < 0 {
		return nil, ErrNotInRoom
	}
	next := slices.Delete(slices.Clone(cur), i, i+1)
	rm.members.Store(&next)
	if len(next) == 0 {
		rm.gone = true
		r.rooms.Delete(id)
	}
	return next, nil
}

// Members implements Rooms.
func (r *memRooms) Members(id int64, s *Session) ([]*Session, bool, error) {
	rm, err := r.get(id)
	if err != nil {
		return nil, false, err
	}
	cur := *rm.members.Load()
	return cur, slices.Contains(cur, s), nil
}
