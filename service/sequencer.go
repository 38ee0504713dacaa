package service

import (
	"hash/maphash"
	"slices"
	"sync"
)

// sequencer makes message pushes follow each conversation's seq order.
// Sends of one conversation run on different workers (different senders'
// connections) and their appends can finish in any order; each send takes a
// ticket before AppendMessage and hands its delivery to done afterwards.
// Deliveries are released under the conversation's own lock in seq order:
// seq == next goes at once (and then any buffered successors), a later seq
// waits for the gap to fill, and whenever no append of the conversation is
// in flight every buffered delivery is released in order (the gap was a
// failed append or another node's message). On a conversation seen for
// the first time, next is learnt from the first append begun with nothing
// in flight (the head): once every append in flight when it returned has
// returned too, the lowest pending seq is next, so appends that overtook
// the head in the store's queue are still released first.
type sequencer struct {
	seed   maphash.Seed
	shards [64]seqShard
}

type seqShard struct {
	mu    sync.Mutex
	convs map[string]*convSeq
}

// convSeq is one conversation's release state.
type convSeq struct {
	refs int // tickets outstanding; guarded by the shard's mu

	mu       sync.Mutex
	next     int64 // next seq to release; 0 = not yet known
	inflight int
	pending  map[int64]func()

	// Learning next: the head (an append begun with nothing in flight)
	// returned while others were in flight, and any of those may have
	// overtaken it in the store's queue with a lower seq. Once every
	// append in flight at that moment has returned, the lowest pending
	// seq is next. Appends begun later get higher seqs than the head's.
	began       int64 // tickets issued, numbering them
	learning    bool
	barrierGen  int64 // tickets numbered up to this must return
	barrierLeft int   // how many of them are still in flight
}

// seqTicket is what a send holds between begin and done.
type seqTicket struct {
	conv string
	c    *convSeq
	gen  int64
	head bool // no append of the conversation was in flight at begin
}

// maxIdleConvs is the per-shard size past which idle entries are dropped
// (they only cache next; a dropped one relearns it).
const maxIdleConvs = 4096

func newSequencer() *sequencer {
	q := &sequencer{seed: maphash.MakeSeed()}
	for i := range q.shards {
		q.shards[i].convs = make(map[string]*convSeq)
	}
	return q
}

func (q *sequencer) shard(conv string) *seqShard {
	return &q.shards[maphash.String(q.seed, conv)%uint64(len(q.shards))]
}

// begin registers an append about to start in conv.
func (q *sequencer) begin(conv string) seqTicket {
	sh := q.shard(conv)
	sh.mu.Lock()
	c := sh.convs[conv]
	if c == nil {
		if len(sh.convs) >= maxIdleConvs {
			for k, o := range sh.convs {
				if o.refs == 0 {
					delete(sh.convs, k)
				}
			}
		}
		c = &convSeq{pending: make(map[int64]func())}
		sh.convs[conv] = c
	}
	c.refs++
	sh.mu.Unlock()

	c.mu.Lock()
	head := c.next == 0 && c.inflight == 0
	c.inflight++
	c.began++
	gen := c.began
	c.mu.Unlock()
	return seqTicket{conv: conv, c: c, gen: gen, head: head}
}

// done ends the append of t. When the append stored a new message, seq is
// its seq and deliver pushes it; deliver is nil for a failed append or a
// duplicate (nothing to push). deliver runs under the conversation's lock:
// it must only queue writes.
func (q *sequencer) done(t seqTicket, seq int64, deliver func()) {
	c := t.c
	c.mu.Lock()
	c.inflight--
	if c.learning && t.gen <= c.barrierGen {
		c.barrierLeft--
	}
	if deliver != nil {
		if c.next != 0 && seq < c.next {
			deliver() // behind the line (another node's order): do not hold it
		} else {
			c.pending[seq] = deliver
		}
		if t.head && c.next == 0 && c.inflight > 0 && !c.learning {
			c.learning, c.barrierGen, c.barrierLeft = true, c.began, c.inflight
		}
	}
	if c.learning && c.barrierLeft == 0 {
		c.learning = false
		for s := range c.pending {
			if c.next == 0 || s < c.next {
				c.next = s
			}
		}
	}
	if c.next != 0 {
		for {
			f, ok := c.pending[c.next]
			if !ok {
				break
			}
			delete(c.pending, c.next)
			f()
			c.next++
		}
	}
	if c.inflight == 0 && len(c.pending) > 0 {
		seqs := make([]int64, 0, len(c.pending))
		for s := range c.pending {
			seqs = append(seqs, s)
		}
		slices.Sort(seqs)
		for _, s := range seqs {
			c.pending[s]()
			delete(c.pending, s)
		}
		c.next = max(c.next, seqs[len(seqs)-1]+1)
		c.learning = false
	}
	c.mu.Unlock()

	sh := q.shard(t.conv)
	sh.mu.Lock()
	c.refs--
	sh.mu.Unlock()
}

// lookup returns conv's state, nil when no append of it is known here.
func (q *sequencer) lookup(conv string) *convSeq {
	sh := q.shard(conv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.convs[conv]
}

// busy reports whether an append of conv on this node has not been
// delivered yet (in flight, or held for an earlier seq): the reorder gate
// waits for it rather than filling its seq from the store, which would
// push a message to the connection that sent it.
func (q *sequencer) busy(conv string) bool {
	c := q.lookup(conv)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight > 0 || len(c.pending) > 0
}

// released returns the highest seq of conv this node has released in
// order: every seq up to it is stored (seqs are dense and messages are
// never deleted). 0 when this node does not know the conversation yet.
func (q *sequencer) released(conv string) int64 {
	c := q.lookup(conv)
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.next-1, 0)
}
