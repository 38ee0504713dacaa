package service

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
)

// Rooms holds the live rooms (meetings) of one node: nothing in them is
// stored. Members are sessions; a user with several sessions in a room
// counts once. A room with no members is gone. The in-memory implementation
// is the default; in a cluster it also holds the members on other nodes, as
// stand-in Sessions that clusterRooms (clusterrooms.go) keeps up to date.
type Rooms interface {
	// Create makes a room named name with s as its only member (and owner).
	Create(name string, s *Session) protocol.Room
	// Join adds s to the room. ErrRoomNotFound, ErrAlreadyInRoom.
	Join(roomID int64, s *Session) (RoomChange, error)
	// Leave removes s. ErrRoomNotFound, ErrNotInRoom.
	Leave(roomID int64, s *Session) (RoomChange, error)
	// Members returns the room's members (shared; do not modify) and
	// whether s is one of them. ErrRoomNotFound.
	Members(roomID int64, s *Session) (members []*Session, in bool, err error)
	// Page returns at most limit members with user_id above after, by
	// user_id ascending, and whether there are more. ErrRoomNotFound,
	// ErrNotInRoom when s is not in the room.
	Page(roomID int64, s *Session, after int64, limit int) (page []protocol.Profile, more bool, err error)
}

// RoomChange is the outcome of a join or leave: the room after it, its
// members (shared; do not modify), and whether the change is announced one
// by one (joined/left) because the room is at most at the announce
// threshold. Above it the Rooms implementation coalesces count events.
type RoomChange struct {
	Room     protocol.Room
	Members  []*Session
	Announce bool
}

// Room errors.
var (
	ErrRoomNotFound  = errors.New("service: room not found")
	ErrAlreadyInRoom = errors.New("service: already in the room")
	ErrNotInRoom     = errors.New("service: not in the room")
)

// memRooms keeps rooms in a sync.Map. Each room's members live twice: an
// append-only copy-on-write slice behind an atomic pointer that the media
// relay and fan-outs read without a lock (a join appends in place past
// every reader's length, so filling a room is linear), and a slice sorted
// by user_id under the room's mutex for paging (binary-search insert).
type memRooms struct {
	nextID      atomic.Int64
	rooms       sync.Map // int64 -> *room
	announceMax int
	// onCount sends a count event to a room's members; it runs on the
	// room's coalescing timer, under the room's lock, and must not block.
	onCount  func(roomID int64, count int, members []*Session)
	interval time.Duration // least time between two count events of a room
}

type room struct {
	id      int64
	name    string
	owner   int64
	members atomic.Pointer[[]*Session]

	mu     sync.Mutex
	gone   bool
	sorted []*Session // by user_id; a user's sessions are adjacent
	users  int        // distinct user_ids in sorted
	// The count coalescer: at most one timer per room, armed by the first
	// change above the threshold and re-armed while changes keep coming.
	timer    *time.Timer
	dirty    bool
	lastSent time.Time
}

// newMemRooms makes the in-memory rooms: changes that leave a room with
// more than announceMax users are reported by onCount, coalesced.
func newMemRooms(announceMax int, onCount func(roomID int64, count int, members []*Session)) *memRooms {
	return &memRooms{announceMax: announceMax, onCount: onCount, interval: time.Second}
}

// Create implements Rooms.
func (r *memRooms) Create(name string, s *Session) protocol.Room {
	rm := newRoom(r.nextID.Add(1), name, s.userID, s)
	info := rm.info() // before a join can change it
	r.rooms.Store(rm.id, rm)
	return info
}

func newRoom(id int64, name string, owner int64, s *Session) *room {
	rm := &room{id: id, name: name, owner: owner, sorted: []*Session{s}, users: 1}
	m := []*Session{s}
	rm.members.Store(&m)
	return rm
}

// joinOrCreate adds s to the room id, creating it (named name, owned by
// owner) when this node does not know it: in a cluster, a room id comes
// from the cluster-wide counter, and the first member a node hears of may
// be one on another node. Creating reports no announcement. ErrAlreadyInRoom.
func (r *memRooms) joinOrCreate(id int64, name string, owner int64, s *Session) (RoomChange, error) {
	for {
		rm := newRoom(id, name, owner, s)
		info := rm.info() // before others can see it
		if _, loaded := r.rooms.LoadOrStore(id, rm); !loaded {
			return RoomChange{Room: info, Members: []*Session{s}}, nil
		}
		ch, err := r.Join(id, s)
		if errors.Is(err, ErrRoomNotFound) {
			continue // emptied meanwhile: create it again
		}
		return ch, err
	}
}

// info describes the room; callers hold mu or own the room alone.
func (rm *room) info() protocol.Room {
	return protocol.Room{RoomID: rm.id, Name: rm.name, Owner: rm.owner, MemberCount: rm.users}
}

func (r *memRooms) get(id int64) (*room, error) {
	v, ok := r.rooms.Load(id)
	if !ok {
		return nil, ErrRoomNotFound
	}
	return v.(*room), nil
}

// userRun returns the bounds of user's sessions in sorted.
func (rm *room) userRun(user int64) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(rm.sorted, user, func(m *Session, u int64) int { return compareID(m.userID, u) })
	hi = lo
	for hi < len(rm.sorted) && rm.sorted[hi].userID == user {
		hi++
	}
	return lo, hi
}

func compareID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Join implements Rooms.
func (r *memRooms) Join(id int64, s *Session) (RoomChange, error) {
	rm, err := r.get(id)
	if err != nil {
		return RoomChange{}, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.gone {
		return RoomChange{}, ErrRoomNotFound
	}
	lo, hi := rm.userRun(s.userID)
	if slices.Contains(rm.sorted[lo:hi], s) {
		return RoomChange{}, ErrAlreadyInRoom
	}
	if lo == hi {
		rm.users++
	}
	rm.sorted = slices.Insert(rm.sorted, hi, s)
	next := append(*rm.members.Load(), s) // readers never look past their length
	rm.members.Store(&next)
	return r.changed(rm, next), nil
}

// Leave implements Rooms.
func (r *memRooms) Leave(id int64, s *Session) (RoomChange, error) {
	rm, err := r.get(id)
	if err != nil {
		return RoomChange{}, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.gone {
		return RoomChange{}, ErrRoomNotFound
	}
	lo, hi := rm.userRun(s.userID)
	i := slices.Index(rm.sorted[lo:hi], s)
	if i < 0 {
		return RoomChange{}, ErrNotInRoom
	}
	rm.sorted = slices.Delete(rm.sorted, lo+i, lo+i+1)
	if hi-lo == 1 {
		rm.users--
	}
	cur := *rm.members.Load()
	j := slices.Index(cur, s)
	next := slices.Delete(slices.Clone(cur), j, j+1)
	rm.members.Store(&next)
	if len(next) == 0 {
		rm.gone = true
		r.rooms.Delete(id)
	}
	return r.changed(rm, next), nil
}

// changed reports a join or leave; above the threshold it arms the room's
// count timer instead of asking for an announcement. Callers hold mu.
func (r *memRooms) changed(rm *room, members []*Session) RoomChange {
	ch := RoomChange{Room: rm.info(), Members: members, Announce: rm.users <= r.announceMax}
	if ch.Announce || rm.gone {
		rm.dirty = false // a pending count is stale: the room is announced one by one again
		return ch
	}
	rm.dirty = true
	if rm.timer == nil {
		rm.timer = time.AfterFunc(max(0, time.Until(rm.lastSent.Add(r.interval))), func() { r.flushCount(rm) })
	}
	return ch
}

// flushCount sends the room's count if it changed since the last one, then
// keeps the timer for another interval so bursts are sent at most once per
// interval; an interval without changes retires the timer. It sends under
// the lock (onCount only queues writes) so a count never follows the left
// event of a leave that brought the room back to the threshold.
func (r *memRooms) flushCount(rm *room) {
	rm.mu.Lock()
	if !rm.dirty || rm.gone {
		rm.timer = nil
		rm.mu.Unlock()
		return
	}
	defer rm.mu.Unlock()
	rm.dirty = false
	rm.lastSent = time.Now()
	rm.timer.Reset(r.interval)
	if r.onCount != nil {
		r.onCount(rm.id, rm.users, *rm.members.Load())
	}
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

// Page implements Rooms.
func (r *memRooms) Page(id int64, s *Session, after int64, limit int) ([]protocol.Profile, bool, error) {
	rm, err := r.get(id)
	if err != nil {
		return nil, false, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if lo, hi := rm.userRun(s.userID); rm.gone || !slices.Contains(rm.sorted[lo:hi], s) {
		return nil, false, ErrNotInRoom
	}
	_, i := rm.userRun(after)
	page := make([]protocol.Profile, 0, min(limit, rm.users))
	for ; i < len(rm.sorted); i++ {
		m := rm.sorted[i]
		if len(page) > 0 && page[len(page)-1].UserID == m.userID {
			continue
		}
		if len(page) == limit {
			return page, true, nil
		}
		page = append(page, m.Profile())
	}
	return page, false, nil
}
