package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite's search indexes (messages_trgm and messages_trgm_short, FTS5)
// are fed in batches by an indexer goroutine, not inside each append's
// transaction. FTS5 writes a new segment for every transaction that adds
// rows, and merges segments as they pile up; one segment per group commit
// cost more than the rest of the commit (at 2,000 messages/s, one commit
// per message, chatd spent 334 µs of CPU per message). The indexer takes
// every committed text message above the high-water mark at once, when
// ftsBatchRows have gathered or ftsDelay has passed since the first of
// them, in one transaction that also moves the mark (table
// search_indexed). A search reads the mark first, asks the indexes, and
// scans the few messages above it (searchTail), so a message is found from
// its commit on. A recall deletes the message's index rows by trigger; a
// recalled message above the mark is no longer 'text' and is never
// indexed. After a crash the mark is where the last index transaction left
// it, and opening the store indexes the rest.
const (
	// ftsBatchRows starts an index transaction at once: past it, the
	// searches' scan of the unindexed messages grows longer.
	ftsBatchRows = 1000
	// ftsDelay is how long committed messages may wait for their index
	// transaction: the length of the scan a search adds is what gathers in
	// this time.
	ftsDelay = 100 * time.Millisecond
)

// The statements that index the text messages with from < id <= to
// (arguments from, to). Newest first: the rowids (-id) then ascend, and
// FTS5 keeps a whole transaction's terms in memory only while they do.
const qIndexRange = `INSERT INTO %s (rowid, body) SELECT -id, %s FROM messages
	WHERE id > ? AND id <= ? AND type = 'text' ORDER BY id DESC`

var (
	qIndexTrgm      = fmt.Sprintf(qIndexRange, "messages_trgm", "body")
	qIndexTrgmShort = fmt.Sprintf(qIndexRange, "messages_trgm_short", "chatd_short_grams(body)")
)

// ftsIndexer is the SQLite search indexer of one store.
type ftsIndexer struct {
	s     *sqlStore
	delay time.Duration // ftsDelay but in tests
	// indexed is the high-water mark: every committed text message with
	// an id at or below it is in both indexes, none above.
	indexed atomic.Int64

	mu        sync.Mutex
	committed int64     // highest id committed (the single committer's order)
	pending   int       // text messages committed above indexed
	since     time.Time // when the first of them committed
	wake      chan struct{}
	quit      chan struct{}
	done      chan struct{}
}

// openFTSIndexer reads the mark, indexes what a previous process left
// above it and starts the indexer.
func (s *sqlStore) openFTSIndexer(ctx context.Context, delay time.Duration) (*ftsIndexer, error) {
	if delay <= 0 {
		delay = ftsDelay
	}
	x := &ftsIndexer{s: s, delay: delay, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	var mark, top int64
	if err := s.w.QueryRowContext(ctx, `SELECT id FROM search_indexed`).Scan(&mark); err != nil {
		return nil, fmt.Errorf("read the search index mark: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&top); err != nil {
		return nil, fmt.Errorf("read the last message id: %w", err)
	}
	x.indexed.Store(mark)
	x.committed = top
	if top > mark {
		if err := x.index(ctx, mark, top); err != nil {
			return nil, err
		}
	}
	go x.run()
	return x, nil
}

// note records a committed batch: its highest id and how many of its
// messages are text. Called by the committer after each commit, in id
// order (SQLite has one committer).
func (x *ftsIndexer) note(top int64, texts int) {
	x.mu.Lock()
	x.committed = max(x.committed, top)
	if texts > 0 {
		if x.pending == 0 {
			x.since = time.Now()
		}
		x.pending += texts
	}
	first := texts > 0 && x.pending == texts
	full := x.pending >= ftsBatchRows
	x.mu.Unlock()
	if first || full {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

// run indexes what has gathered, x.delay after the first of it or at
// once when ftsBatchRows have.
func (x *ftsIndexer) run() {
	defer close(x.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-x.quit:
			return
		case <-x.wake:
		case <-t.C:
		}
		x.mu.Lock()
		pending, wait := x.pending, x.delay-time.Since(x.since)
		x.mu.Unlock()
		if pending == 0 {
			continue
		}
		if pending >= ftsBatchRows || wait <= 0 {
			x.flush()
			// What committed meanwhile has its own delay, and no wake-up
			// comes for it (note wakes the indexer only from empty).
			x.mu.Lock()
			pending, wait = x.pending, x.delay-time.Since(x.since)
			x.mu.Unlock()
			if pending == 0 {
				continue
			}
		}
		t.Reset(max(wait, 0))
	}
}

// flush indexes every committed message above the mark.
func (x *ftsIndexer) flush() {
	x.mu.Lock()
	from, to, pending := x.indexed.Load(), x.committed, x.pending
	x.mu.Unlock()
	if to <= from {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.index(ctx, from, to); err != nil {
		// Searches keep scanning above the mark; the next commit or the
		// next flush tries again.
		x.s.log.Warn().Err(err).Int64("from", from).Int64("to", to).Msg("search index batch failed")
		x.mu.Lock()
		x.since = time.Now()
		x.mu.Unlock()
		return
	}
	x.mu.Lock()
	x.pending = max(0, x.pending-pending)
	if x.pending > 0 {
		x.since = time.Now()
	}
	x.mu.Unlock()
}

// index adds the text messages with from < id <= to to both indexes and
// moves the mark to to, in one transaction.
func (x *ftsIndexer) index(ctx context.Context, from, to int64) error {
	tx, err := x.s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index for search: %w", err)
	}
	defer tx.Rollback()
	if err := indexRange(ctx, tx, from, to); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE search_indexed SET id = ?`, to); err != nil {
		return fmt.Errorf("index for search: move the mark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index for search: %w", err)
	}
	x.indexed.Store(to)
	return nil
}

// indexRange adds the text messages with from < id <= to to both search
// indexes, in tx.
func indexRange(ctx context.Context, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, from, to int64) error {
	for _, q := range []string{qIndexTrgm, qIndexTrgmShort} {
		if _, err := tx.ExecContext(ctx, q, from, to); err != nil {
			return fmt.Errorf("index for search: %w", err)
		}
	}
	return nil
}

// close stops the indexer; what it has not indexed is indexed when the
// store is next opened.
func (x *ftsIndexer) close() {
	close(x.quit)
	<-x.done
}
