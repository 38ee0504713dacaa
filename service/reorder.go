package service

import (
	"context"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/chatd/chatd/protocol"
)

// The reorder gate (section 19; cluster mode only). Nodes append to one
// conversation independently and each publishes its own messages, so a
// node can receive seq 7 before seq 6, or release its own seq 7 before
// another node's seq 6 reaches it. In a cluster every msg push a node
// writes to its own sessions (its own appends and other nodes') passes the
// gate of its conversation, which releases them in seq order: the expected
// seq at once, a later one held until the gap fills. A gap still open after
// gateWait is filled from the store; a seq already released is dropped.
// Each session also keeps the highest seq it has of each conversation
// (Session.admit) and is never written a msg push at or below it, so a
// message is written to a client once even when its login backlog and a
// held or filled push both carry it. Outside a cluster nothing of this
// runs: the sequencer alone orders one node's pushes.

const (
	// gateWait bounds how long a gap holds a conversation's later pushes
	// before the missing messages are read from the store.
	gateWait = 50 * time.Millisecond
	// gateFillMax bounds the messages one fill reads; past it the gate
	// skips ahead and the clients see a gap they close with msg.sync.
	gateFillMax = 200
	// gateKeep is how long an idle conversation's gate state is kept once
	// a shard holds maxGateConvs of them (or twice what the last sweep
	// kept).
	gateKeep     = time.Minute
	maxGateConvs = 4096
)

// reorderGate is a node's reorder gate: per conversation, the next seq to release
// and the pushes held behind a gap.
type reorderGate struct {
	s      *Server
	seed   maphash.Seed
	shards [64]gateShard
}

type gateShard struct {
	mu    sync.Mutex
	convs map[string]*gateConv
	limit int // size that triggers the next sweep of idle states
}

// gateConv is one conversation's gate state.
type gateConv struct {
	conv string
	used time.Time // guarded by the shard's mu

	mu      sync.Mutex
	next    int64 // next seq to release; 0 = not known yet
	pending map[int64]gatePush
	timer   *time.Timer
	armed   bool // timer will fire
	filling bool // a fill is reading the store
}

// gatePush is a msg push waiting at the gate.
type gatePush struct {
	users []int64
	frame outFrame
	skip  *connState
}

func newReorderGate(s *Server) *reorderGate {
	g := &reorderGate{s: s, seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].convs = make(map[string]*gateConv)
	}
	return g
}

// get returns conv's state, creating it (and dropping idle ones when the
// shard is full).
func (g *reorderGate) get(conv string) *gateConv {
	sh := &g.shards[maphash.String(g.seed, conv)%uint64(len(g.shards))]
	now := time.Now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.convs[conv]
	if c == nil {
		if len(sh.convs) >= max(sh.limit, maxGateConvs) {
			for k, o := range sh.convs {
				o.mu.Lock()
				idle := len(o.pending) == 0 && !o.filling && now.Sub(o.used) > gateKeep
				o.mu.Unlock()
				if idle {
					delete(sh.convs, k)
				}
			}
			// Busy conversations stay; sweep again when they have doubled.
			sh.limit = 2 * len(sh.convs)
		}
		c = &gateConv{conv: conv, pending: make(map[int64]gatePush)}
		sh.convs[conv] = c
	}
	c.used = now
	return c
}

// offer hands the gate a msg push of conv at seq for this node's sessions
// of p.users (except p.skip). It only queues writes.
func (g *reorderGate) offer(conv string, seq int64, p gatePush) {
	c := g.get(conv)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next != 0 && seq < c.next {
		metricGateDropped.Inc()
		return
	}
	if seq == c.next {
		g.release(c, seq, p)
		g.drain(c)
		return
	}
	if _, dup := c.pending[seq]; dup {
		metricGateDropped.Inc()
		return
	}
	// The first push seen of conv, or a gap before seq: do the sessions
	// here miss anything below it?
	need, known, any := g.need(conv, p.users)
	switch {
	case !any || (known && need >= seq):
		// Nobody here to order for, or every session here has all
		// below seq already.
		g.releaseBelow(c, seq)
		g.release(c, seq, p)
		g.drain(c)
		return
	case known && c.next == 0:
		g.releaseBelow(c, need) // held while learning; the sessions have them
		c.next = need
	case !known && c.next == 0 && seq == 1:
		g.release(c, seq, p)
		g.drain(c)
		return
	}
	// Hold seq until the gap fills, or the wait ends (with next still
	// unknown, the wait learns it: the lowest seq held then).
	c.pending[seq] = p
	g.arm(c)
}

// need returns the lowest seq of conv any of this node's sessions of users
// lacks, whether any of them knows the conversation, and whether there is
// any. The sending connection of a push counts although the push is not
// written to it: releasing the push admits its seq there (Session.admit),
// so an earlier seq still on its way from another node, or stored by a
// node that died before publishing it, would never reach it.
func (g *reorderGate) need(conv string, users []int64) (int64, bool, bool) {
	need, known, any := int64(math.MaxInt64), false, false
	for _, u := range users {
		for _, sess := range g.s.router.Sessions(u) {
			any = true
			if l, ok := sess.known(conv); ok {
				known = true
				need = min(need, l+1)
			}
		}
	}
	return need, known, any
}

// release writes p (seq) to the sessions; c.mu held.
func (g *reorderGate) release(c *gateConv, seq int64, p gatePush) {
	n := g.s.pushLocal(p.users, p.frame, c.conv, seq, p.skip)
	metricPushes.Add(float64(n))
	c.next = seq + 1
}

// releaseBelow releases, in order, every held push below seq; c.mu held.
func (g *reorderGate) releaseBelow(c *gateConv, seq int64) {
	var seqs []int64
	for s := range c.pending {
		if s < seq {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		g.release(c, s, c.pending[s])
		delete(c.pending, s)
	}
}

// drain releases the held pushes that follow next without a gap; c.mu held.
func (g *reorderGate) drain(c *gateConv) {
	for {
		p, ok := c.pending[c.next]
		if !ok {
			break
		}
		delete(c.pending, c.next)
		g.release(c, c.next, p)
	}
	if len(c.pending) == 0 && c.armed {
		c.timer.Stop()
		c.armed = false
	}
}

// arm starts the wait for c's gap unless it runs already; c.mu held.
func (g *reorderGate) arm(c *gateConv) {
	if c.armed {
		return
	}
	c.armed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(gateWait, func() { g.expire(c) })
	} else {
		c.timer.Reset(gateWait)
	}
}

// lowest returns the lowest held seq; c.mu held, pending not empty.
func lowest(c *gateConv) int64 {
	low := int64(math.MaxInt64)
	for s := range c.pending {
		low = min(low, s)
	}
	return low
}

// highest returns the highest held seq; c.mu held, pending not empty.
func highest(c *gateConv) int64 {
	high := int64(0)
	for s := range c.pending {
		high = max(high, s)
	}
	return high
}

// expire ends a wait: the missing seqs below the lowest held push are
// read from the store and released, then what was held.
func (g *reorderGate) expire(c *gateConv) {
	// Asked before taking c.mu (a delivery holds the sequencer's lock while
	// it takes c.mu). An append begun after this answer commits after
	// every push held here, so it cannot be a seq of the gap.
	busy := g.s.seq.busy(c.conv)
	c.mu.Lock()
	c.armed = false
	if len(c.pending) == 0 || c.filling {
		c.mu.Unlock()
		return
	}
	if busy {
		// This node's own append of the gap reaches the gate soon.
		g.arm(c)
		c.mu.Unlock()
		return
	}
	if c.next == 0 {
		c.next = lowest(c)
		g.drain(c)
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
	}
	low := lowest(c)
	from := c.next
	first := c.pending[low]
	if need, known, any := g.need(c.conv, first.users); !any || (known && need >= low) {
		g.releaseBelow(c, low+1)
		g.drain(c)
		g.rearm(c)
		c.mu.Unlock()
		return
	} else if known && need > from {
		// Every session here has up to need already.
		g.releaseBelow(c, need)
		c.next = need
		g.drain(c)
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		from = c.next
	}
	// Everything missing up to the highest push held is read at once:
	// more gaps may lie between the held pushes.
	high := highest(c)
	c.filling = true
	c.mu.Unlock()

	fill, users := g.fetch(c.conv, from, min(high-from, gateFillMax))

	c.mu.Lock()
	c.filling = false
	for _, m := range fill {
		if m.seq < c.next {
			continue // released meanwhile
		}
		if m.seq > c.next {
			// The store has no gaps; a fill shorter than asked ends here.
			break
		}
		g.release(c, m.seq, gatePush{users: users, frame: m.frame})
		g.drain(c)
	}
	metricGateFilled.Add(float64(len(fill)))
	if len(c.pending) > 0 && lowest(c) > c.next && lowest(c) <= high {
		// The store could not close the gap (an error, or more than one
		// fill's worth): skip it; the clients see it and sync.
		c.next = lowest(c)
		g.drain(c)
	}
	g.rearm(c)
	c.mu.Unlock()
}

// rearm waits again if pushes are still held; c.mu held.
func (g *reorderGate) rearm(c *gateConv) {
	if len(c.pending) > 0 {
		g.arm(c)
	}
}

// filled is a message read from the store to fill a gap.
type filled struct {
	seq   int64
	frame outFrame
}

// fetch reads up to n messages of conv from seq from on, and the members
// they go to. Errors are logged and leave the fill empty.
func (g *reorderGate) fetch(conv string, from int64, n int64) ([]filled, []int64) {
	s := g.s
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	id, err := protocol.ParseConv(conv)
	if err != nil {
		return nil, nil
	}
	var users []int64
	if id.IsPrivate() {
		a, b := id.Users()
		users = []int64{a, b}
	} else if users, err = s.groups.members(ctx, id.GroupID()); err != nil {
		if s.ctx.Err() != nil {
			return nil, nil
		}
		s.log.Warn().Str("conv", conv).Err(err).Msg("reorder gate: group members")
		return nil, nil
	}
	msgs, err := s.store.Messages(ctx, conv, from-1, int(n))
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn().Str("conv", conv).Int64("from_seq", from).Err(err).Msg("reorder gate: fill")
		}
		return nil, nil
	}
	out := make([]filled, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, filled{seq: m.Seq, frame: encodePush(protocol.OpMsgPush, &protocol.MsgPush{Message: toMessage(m)})})
	}
	return out, users
}
