package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// appendReq is one AppendMessage call waiting for its batch.
type appendReq struct {
	ctx context.Context
	m   NewMessage
	// recall, when > 0, makes m a recall of that seq (RecallMessage).
	recall int64
	done   chan appendRes // buffered 1: the committer never blocks on it
}

type appendRes struct {
	msg Message
	dup bool
	err error
	// recalledBy is the seq of the recall that had already recalled the
	// target of a recall (err wraps ErrAlreadyRecalled).
	recalledBy int64
}

// committer is the group commit: a worker goroutine takes the appends
// that queued up while its previous batch committed (waiting up to window
// for more when the batch is not full), writes them in one transaction and
// answers each caller after the commit. Several workers may commit batches
// in parallel (MySQL, where the server merges their log flushes); the
// conversation row locks keep seqs gapless between them.
type committer struct {
	s *sqlStore
	// in has one queue per worker; a conversation always goes to the
	// same worker, so parallel batches never wait on each other's
	// conversation locks and each conversation's appends stay in order.
	in     []chan *appendReq
	max    int
	window time.Duration

	mu     sync.RWMutex // held for reading while sending to in
	closed bool
	quit   chan struct{}
	wg     sync.WaitGroup // the workers

	idMu sync.Mutex
	// next..limit is the block of message ids this process reserved.
	next, limit int64

	// failHook, set only by tests, can fail a batch just before its commit.
	failHook func() error
	// onBatch is Config.OnBatch (nil: nobody is told).
	onBatch func(size int, d time.Duration)
}

func newCommitter(s *sqlStore, max int, window time.Duration, workers int) *committer {
	c := &committer{s: s, max: max, window: window, quit: make(chan struct{})}
	for i := 0; i < workers; i++ {
		in := make(chan *appendReq, 4*max)
		c.in = append(c.in, in)
		c.wg.Add(1)
		go c.run(in)
	}
	return c
}

var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan appendRes, 1)} }}

func (s *sqlStore) AppendMessage(ctx context.Context, m NewMessage) (Message, bool, error) {
	if len(m.Mentions) > MaxMentions {
		// Refused here: too long a list would fail the whole batch.
		return Message{}, false, fmt.Errorf("store: append: %d mentions, at most %d", len(m.Mentions), MaxMentions)
	}
	res := s.c.append(ctx, m, 0)
	return res.msg, res.dup, res.err
}

// append queues one append (a recall of seq recall when > 0) and waits
// for its batch to commit.
func (c *committer) append(ctx context.Context, m NewMessage, recall int64) appendRes {
	r := reqPool.Get().(*appendReq)
	if m.TS == 0 {
		m.TS = time.Now().UnixMilli()
	}
	r.ctx, r.m, r.recall = ctx, m, recall
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return appendRes{err: fmt.Errorf("store: append: %w", ErrClosed)}
	}
	select {
	case c.queue(m.Conv) <- r:
	case <-ctx.Done():
		c.mu.RUnlock()
		return appendRes{err: fmt.Errorf("store: append: %w", ctx.Err())}
	}
	c.mu.RUnlock()
	select {
	case res := <-r.done:
		r.ctx, r.m, r.recall = nil, NewMessage{}, 0
		reqPool.Put(r)
		return res
	case <-ctx.Done():
		// The committer still owns r (it may commit it: a retry with the
		// same client_msg_id then returns the original), so r is not reused.
		return appendRes{err: fmt.Errorf("store: append: %w", ctx.Err())}
	}
}

// close stops taking appends, lets the committer finish its batch and
// fails whatever is still queued with ErrClosed.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	c.wg.Wait()
	for _, in := range c.in {
		for len(in) > 0 {
			r := <-in
			r.done <- appendRes{err: fmt.Errorf("store: append: %w", ErrClosed)}
		}
	}
}

// queue returns the worker queue of a conversation (FNV-1a of its id).
func (c *committer) queue(conv string) chan *appendReq {
	if len(c.in) == 1 {
		return c.in[0]
	}
	h := uint32(2166136261)
	for i := 0; i < len(conv); i++ {
		h = (h ^ uint32(conv[i])) * 16777619
	}
	return c.in[h%uint32(len(c.in))]
}

// run is one worker: it takes what is queued, and when recent batches
// show several concurrent senders it waits (at most c.window) until the
// batch is as large as the largest of the last few, so senders answered by
// the previous commit ride in this one instead of the next: fewer, fuller
// transactions. A lone sender never waits.
func (c *committer) run(in chan *appendReq) {
	defer c.wg.Done()
	batch := make([]*appendReq, 0, c.max)
	var recent [8]int // sizes of the last batches
	var n int
	var timer *time.Timer
	for {
		batch = batch[:0]
		select {
		case r := <-in:
			batch = append(batch, r)
		case <-c.quit:
			return
		}
	drain:
		for len(batch) < c.max {
			select {
			case r := <-in:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		target := 0
		for _, v := range recent {
			target = max(target, v)
		}
		target = min(target, c.max)
		if c.window > 0 && target > 1 && len(batch) < target {
			if timer == nil {
				timer = time.NewTimer(c.window)
			} else {
				timer.Reset(c.window)
			}
		wait:
			for len(batch) < target {
				select {
				case r := <-in:
					batch = append(batch, r)
				case <-timer.C:
					break wait
				case <-c.quit:
					break wait // commit what we have, then stop
				}
			}
			timer.Stop()
		}
		recent[n%len(recent)] = len(batch)
		n++
		c.flush(batch)
	}
}

// flush commits one batch, retrying transient conflicts, and answers
// every caller in it.
func (c *committer) flush(batch []*appendReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendRes{err: fmt.Errorf("store: append: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	res := make([]appendRes, len(live))
	start := time.Now()
	// Ids are taken once, so retries reuse them; a failed batch's ids
	// are simply never used (ids need to be unique, not gapless).
	firstID, err := c.takeIDs(len(live))
	for attempt := 0; err == nil && attempt < 8; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
		}
		err = c.commit(live, res, firstID)
		if err == nil {
			break
		}
		// Another process may have inserted the same idempotency key
		// since we looked: the retry finds it.
		if !isRetryable(err) && !isDuplicate(err) {
			break
		}
		c.s.log.Debug().Err(err).Int("batch", len(live)).Int("attempt", attempt+1).Msg("append batch conflict, retrying")
	}
	if err != nil {
		c.s.log.Warn().Err(err).Int("batch", len(live)).Msg("append batch failed; its senders get ErrUnavailable")
	}
	if c.onBatch != nil {
		c.onBatch(len(live), time.Since(start))
	}
	for i, r := range live {
		if err != nil {
			res[i] = appendRes{err: fmt.Errorf("store: append (batch of %d): %w: %w", len(live), ErrUnavailable, err)}
		}
		r.done <- res[i]
	}
}

// batchContext is the context of a batch's statements. MySQL gets a
// deadline, so a lost server fails the batch instead of hanging it. SQLite
// gets none: its driver starts a watcher goroutine and sets a progress
// handler for every statement run under a cancellable context, several per
// appended message, and under load those goroutines crowd the committer
// out of the CPU. An SQLite statement cannot hang on a network, and lock
// waits are bounded by busy_timeout.
func (c *committer) batchContext() (context.Context, context.CancelFunc) {
	if c.s.d == sqliteDialect {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// takeIDs returns the first of n consecutive unused message ids.
func (c *committer) takeIDs(n int) (int64, error) {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	ctx, cancel := c.batchContext()
	defer cancel()
	if err := c.reserveIDs(ctx, int64(n)); err != nil {
		return 0, err
	}
	first := c.next
	c.next += int64(n)
	return first, nil
}

// reserveIDs makes sure n ids are available in next..limit, reserving a
// new block from the shared counter (in its own short transaction, so
// processes sharing a database only meet on it once per block).
func (c *committer) reserveIDs(ctx context.Context, n int64) error {
	if c.limit-c.next >= n {
		return nil
	}
	size := max(int64(idBlock), n)
	tx, err := c.s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	defer tx.Rollback()
	var start int64
	if err := tx.QueryRowContext(ctx, `SELECT next_id FROM id_counters WHERE name = 'msg'`+c.s.d.forUpdate).Scan(&start); err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE id_counters SET next_id = ? WHERE name = 'msg'`, start+size); err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	c.next, c.limit = start, start+size
	return nil
}

// commit writes one batch in one transaction, using ids from firstID on,
// and fills res. On error nothing is written and res is garbage.
func (c *committer) commit(batch []*appendReq, res []appendRes, firstID int64) error {
	ctx, cancel := c.batchContext()
	defer cancel()
	tx, err := c.s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	bw := c.s.batchWriter(ctx, tx)
	defer bw.close()

	// 1. Lock the conversations, in id order so that processes sharing a
	// database cannot deadlock, and read their last seq.
	lastSeq := map[string]int64{}
	for _, r := range batch {
		lastSeq[r.m.Conv] = -1
	}
	convs := make([]string, 0, len(lastSeq))
	for cv := range lastSeq {
		convs = append(convs, cv)
	}
	sort.Strings(convs)
	if err := bw.lockConvs(convs, lastSeq); err != nil {
		return fmt.Errorf("lock conversations: %w", err)
	}

	// 2. Idempotency: find messages already stored under these keys.
	known := map[idemKey]Message{}
	var keys []idemKey
	for _, r := range batch {
		if r.m.ClientMsgID != "" {
			keys = append(keys, idemKey{r.m.From, r.m.ClientMsgID})
		}
	}
	if err := bw.findKeys(keys, known); err != nil {
		return fmt.Errorf("idempotency lookup: %w", err)
	}

	// 2b. Recalls: read their targets (the conversation lock keeps them
	// as read until the commit).
	targets, err := c.recallTargets(ctx, tx, batch)
	if err != nil {
		return fmt.Errorf("recall targets: %w", err)
	}

	// 3. Assign ids and seqs.
	id := firstID
	var rows []*Message
	var recalls []recallMark
	lastTS := map[string]int64{}
	sent := map[userConv][]int64{} // seqs each sender got, ascending
	for i, r := range batch {
		m := r.m
		if m.ClientMsgID != "" {
			if orig, ok := known[idemKey{m.From, m.ClientMsgID}]; ok {
				res[i] = appendRes{msg: orig, dup: true}
				continue
			}
		}
		last := lastSeq[m.Conv]
		if last < 0 {
			res[i] = appendRes{err: fmt.Errorf("store: append to %q: %w", m.Conv, ErrNotFound)}
			continue
		}
		if m.ReplyTo < 0 || m.ReplyTo > last {
			res[i] = appendRes{err: fmt.Errorf("store: append to %q: reply_to %d: %w", m.Conv, m.ReplyTo, ErrNotFound)}
			continue
		}
		var mark recallMark
		if r.recall > 0 {
			k := convSeq{m.Conv, r.recall}
			t, ok := targets[k]
			switch {
			case !ok:
				res[i] = appendRes{err: fmt.Errorf("store: recall %s/%d: %w", m.Conv, r.recall, ErrNotFound)}
				continue
			case t.typ == TypeRecall:
				res[i] = appendRes{err: fmt.Errorf("store: recall %s/%d: %w", m.Conv, r.recall, ErrNotRecallable)}
				continue
			case t.recallSeq > 0:
				res[i] = appendRes{recalledBy: t.recallSeq, err: fmt.Errorf("store: recall %s/%d: %w", m.Conv, r.recall, ErrAlreadyRecalled)}
				continue
			}
			mark = recallMark{k, t.id, last + 1, t.fileID}
			t.recallSeq = last + 1 // a second recall in this batch sees it
			targets[k] = t
		}
		last++
		lastSeq[m.Conv] = last
		msg := Message{ID: id, Conv: m.Conv, Seq: last, From: m.From, TS: m.TS, Type: m.Type, Body: m.Body, ClientMsgID: m.ClientMsgID,
			MentionAll: m.MentionAll, ReplyTo: m.ReplyTo}
		if len(m.Mentions) > 0 { // as read back: nil when none
			msg.Mentions = m.Mentions
		}
		id++
		if mark.recallSeq > 0 {
			recalls = append(recalls, mark)
		}
		res[i] = appendRes{msg: msg}
		rows = append(rows, &res[i].msg)
		if m.ClientMsgID != "" {
			// A repeat within this same batch gets this message, as a
			// duplicate (the lookup above answers it).
			known[idemKey{m.From, m.ClientMsgID}] = msg
		}
		lastTS[m.Conv] = max(lastTS[m.Conv], m.TS)
		k := userConv{m.From, m.Conv}
		sent[k] = append(sent[k], last)
	}
	if len(rows) == 0 {
		return tx.Commit()
	}

	// 4. Insert the messages, index their mentions, apply the recalls.
	if err := bw.insert(rows); err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	if err := c.insertMentions(ctx, tx, rows); err != nil {
		return fmt.Errorf("insert mentions: %w", err)
	}
	if err := c.markRecalled(ctx, tx, recalls); err != nil {
		return fmt.Errorf("mark recalled: %w", err)
	}
	pending, isPending, err := c.recordPending(ctx, tx, rows)
	if err != nil {
		return fmt.Errorf("record search pending: %w", err)
	}

	// 5. Advance the conversations' counters.
	adv := make([]convAdvance, 0, len(lastTS))
	for cv, ts := range lastTS {
		adv = append(adv, convAdvance{cv, lastSeq[cv], ts})
	}
	sort.Slice(adv, func(i, j int) bool { return adv[i].conv < adv[j].conv })
	if err := bw.advanceConvs(adv); err != nil {
		return fmt.Errorf("advance conversations: %w", err)
	}

	// 6. Senders' ack cursors: a cursor just below a sender's first new
	// seq follows the sender's run of consecutive seqs in this batch. No
	// read is needed: the batch holds the conversation lock, so the cursor
	// (never above the committed last seq) is at most first-1, and the
	// update's condition checks it is exactly that.
	moves := make([]cursorMove, 0, len(sent))
	for k, seqs := range sent {
		to := seqs[0]
		for _, s := range seqs[1:] {
			if s != to+1 {
				break
			}
			to = s
		}
		moves = append(moves, cursorMove{k, seqs[0] - 1, to})
	}
	// Lock order: every batch updates cursor rows in the same order.
	sort.Slice(moves, func(i, j int) bool {
		if moves[i].k.conv != moves[j].k.conv {
			return moves[i].k.conv < moves[j].k.conv
		}
		return moves[i].k.user < moves[j].k.user
	})
	if err := bw.advanceCursors(moves); err != nil {
		return fmt.Errorf("advance cursors: %w", err)
	}

	if c.failHook != nil {
		if err := c.failHook(); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c.s.fts != nil {
		texts := 0
		for _, m := range rows {
			if m.Type == TypeText {
				texts++
			}
		}
		c.s.fts.note(rows[len(rows)-1].ID, texts, len(recalls) > 0)
	}
	if isPending {
		c.s.indexLater(pending)
	}
	if len(recalls) > 0 {
		ids := make([]int64, len(recalls))
		for i, r := range recalls {
			ids[i] = r.id
		}
		c.s.unindexRecalled(ids)
	}
	return nil
}
