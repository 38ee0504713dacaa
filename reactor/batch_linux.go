//go:build linux && !reactor_netfallback

package reactor

// batchChunk is how many writes WriteBatch posts per lock acquisition: big
// enough to amortise the lock and the wake-up, small enough that the loop,
// which takes the same lock to drain its queue, never waits long for it.
const batchChunk = 64

// batchBucket collects reserved conns of one loop until they are posted.
type batchBucket struct {
	l  *loop
	n  int
	cs [batchChunk]*Conn
}

// WriteBatch queues b on every connection in conns: the fan-out of one
// encoded frame (a group message) to many receivers. b is retained and
// shared, never copied, so the caller must not modify it afterwards. Each
// connection follows Write's rules: closing or closed connections (and nil
// entries) are skipped, and one whose queue would exceed MaxOutbound is
// closed with ErrSlowConsumer and skipped. conns may belong to different
// loops and engines. Writes are grouped by loop and posted batchChunk at a
// time under one lock acquisition with at most one wake-up, instead of a
// lock per receiver. Per connection, the order of WriteBatch and Write calls
// made by one goroutine is kept. It returns how many connections b was
// queued on (0 for an empty b). Safe from any goroutine, including Handler
// callbacks; it never blocks on I/O.
func WriteBatch(b []byte, conns []*Conn) (queued int) {
	n := int64(len(b))
	if n == 0 {
		return 0
	}
	// One bucket per loop, on the stack; a process rarely has more loops
	// than this, and an extra loop just falls back to a lock per write.
	var buckets [8]batchBucket
	used := 0
	for _, c := range conns {
		if c == nil || c.state.Load() != stOpen || !c.reserve(n) {
			continue
		}
		k := 0
		for k < used && buckets[k].l != c.loop {
			k++
		}
		if k == used {
			if used == len(buckets) {
				if c.loop.postWrite(c, b) {
					queued++
				} else {
					c.unreserve(n)
				}
				continue
			}
			buckets[k].l = c.loop
			used++
		}
		bk := &buckets[k]
		bk.cs[bk.n] = c
		bk.n++
		if bk.n == batchChunk {
			queued += bk.post(b, n)
		}
	}
	for k := range used {
		queued += buckets[k].post(b, n)
	}
	return queued
}

// post queues b on the bucket's conns under one lock and empties the bucket;
// if the loop has exited the reservations are returned.
func (bk *batchBucket) post(b []byte, n int64) int {
	cs := bk.cs[:bk.n]
	bk.n = 0
	if len(cs) == 0 {
		return 0
	}
	l := bk.l
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		for _, c := range cs {
			c.unreserve(n)
		}
		return 0
	}
	for _, c := range cs {
		l.cmds = append(l.cmds, cmd{c: c, b: b, op: opWrite})
	}
	l.wakeLocked()
	l.mu.Unlock()
	return len(cs)
}
