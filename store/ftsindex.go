package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite's search indexes (messages_trgm and messages_trgm_short, FTS5)
// live in a database file of their own beside the messages (searchIndexPath),
// attached as "search" to the readers' connections and to the indexer's.
// SQLite has one writer per database file: with the indexes in chatd.db,
// every index transaction, with the segment merges FTS5 runs in them
// (10.3 s of the writer's time in 27 s of chat once the indexes were
// large), held the lock every message commit waits for, and set 1:1
// chat's push p99 at moderate rates (70 ms at 2,000 messages/s, against
// 11 ms with no indexing). In a file of their own the indexer writes while
// the committer commits.
//
// The indexer feeds them in batches, not inside each append's
// transaction: FTS5 writes a new segment for every transaction that adds
// rows. It takes every committed text message above the high-water mark at
// once, when ftsBatchRows have gathered or ftsDelay has passed since the
// first of them, in one transaction of the index file that also moves the
// mark (search.index_state). A search reads the mark first, asks the
// indexes, and scans the few messages above it (searchTail), so a message
// is found from its commit on.
//
// A recall is queued by trigger in chatd.db (search_unindex, in the
// recall's own transaction); the indexer deletes the queued messages' rows
// from the indexes, then the queue entries. Searches never return a
// recalled message meanwhile: they keep only messages that are still text.
//
// The index file holds nothing the messages do not: it is written with
// synchronous=NORMAL (what a power cut takes from its end is indexed again
// from the mark it keeps), and rebuilt from the messages when it is
// missing, of another layout (searchIndexVersion), or ahead of the
// messages (a restored backup).
const (
	// ftsBatchRows starts an index transaction at once: past it, the
	// searches' scan of the unindexed messages grows longer. Larger
	// batches make fewer segments for FTS5 to merge: per message, 300,000
	// messages indexed in batches of 1,000 cost 46.9 µs, of 4,000 34.7 µs.
	ftsBatchRows = 4000
	// ftsDelay is how long committed messages may wait for their index
	// transaction: the length of the scan a search adds is what gathers in
	// this time.
	ftsDelay = 300 * time.Millisecond
	// ftsCatchUpRows is the most message ids one transaction indexes when
	// a store opens behind its messages: FTS5 holds a transaction's terms
	// in memory.
	ftsCatchUpRows = 50000
	// searchIndexVersion is the layout of the index file; an index file
	// of another is rebuilt.
	searchIndexVersion = 1
)

// searchIndexPath is the index file of the SQLite database at path.
func searchIndexPath(path string) string { return path + "-search" }

// searchIndexSchema creates the index file's tables.
var searchIndexSchema = []string{
	`DROP TABLE IF EXISTS search.index_state`,
	`DROP TABLE IF EXISTS search.messages_trgm`,
	`DROP TABLE IF EXISTS search.messages_trgm_short`,
	`CREATE TABLE search.index_state (version INT NOT NULL, indexed BIGINT NOT NULL)`,
	`CREATE VIRTUAL TABLE search.messages_trgm USING fts5(body, content='', contentless_delete=1, tokenize='trigram')`,
	`CREATE VIRTUAL TABLE search.messages_trgm_short USING fts5(body, content='', contentless_delete=1, detail='none', tokenize='trigram')`,
	// FTS5 merges a level's segments when 4 have gathered (automerge);
	// at 8 every row is rewritten fewer times: indexing 300,000 chatbench
	// messages in batches of 4,000 cost 42.6 µs per message at 4 and
	// 34.7 µs at 8, with the same search times (16 gained nothing more).
	`INSERT INTO search.messages_trgm (messages_trgm, rank) VALUES ('automerge', 8)`,
	`INSERT INTO search.messages_trgm_short (messages_trgm_short, rank) VALUES ('automerge', 8)`,
	fmt.Sprintf(`INSERT INTO search.index_state (version, indexed) VALUES (%d, 0)`, searchIndexVersion),
}

// The statements that index the text messages with from < id <= to
// (arguments from, to). Newest first: the rowids (-id) then ascend, and
// FTS5 keeps a whole transaction's terms in memory only while they do.
const qIndexRange = `INSERT INTO search.%s (rowid, body) SELECT -id, %s FROM messages
	WHERE id > ? AND id <= ? AND type = 'text' ORDER BY id DESC`

var (
	qIndexTrgm      = fmt.Sprintf(qIndexRange, "messages_trgm", "body")
	qIndexTrgmShort = fmt.Sprintf(qIndexRange, "messages_trgm_short", "chatd_short_grams(body)")
)

// searchAttached opens SQLite connections to chatd.db with the index file
// attached as "search".
type searchAttached struct {
	drv   driver.Driver
	dsn   string // chatd.db's
	index string // the index file's path
	// The page caches of chatd.db and of the index file on each
	// connection, in KiB; 0 keeps SQLite's default (2,000 KiB).
	mainCache, searchCache int
}

// sqliteDriver is the driver registered as "sqlite", which holds chatd's
// SQL functions.
var sqliteDriver = func() driver.Driver {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	return db.Driver()
}()

// openSearchAttached returns a pool of n connections to the SQLite
// database dsn names, each with the index file at index attached and
// page caches of mainCache and searchCache KiB (0: SQLite's default).
func openSearchAttached(dsn, index string, n, mainCache, searchCache int) *sql.DB {
	db := sql.OpenDB(searchAttached{drv: sqliteDriver, dsn: dsn, index: index, mainCache: mainCache, searchCache: searchCache})
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// Connect opens a connection and attaches the index file: WAL, so that
// its readers never wait for the indexer, and synchronous=NORMAL.
func (a searchAttached) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := a.drv.Open(a.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := c.(driver.ExecerContext)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("store: the sqlite driver cannot execute on a connection")
	}
	type step struct {
		q    string
		args []driver.NamedValue
	}
	steps := []step{
		{`ATTACH DATABASE ? AS search`, []driver.NamedValue{{Ordinal: 1, Value: a.index}}},
		{`PRAGMA search.journal_mode = WAL`, nil},
		{`PRAGMA search.synchronous = NORMAL`, nil},
	}
	if a.mainCache > 0 {
		steps = append(steps, step{fmt.Sprintf(`PRAGMA main.cache_size = %d`, -a.mainCache), nil})
	}
	if a.searchCache > 0 {
		steps = append(steps, step{fmt.Sprintf(`PRAGMA search.cache_size = %d`, -a.searchCache), nil})
	}
	for _, s := range steps {
		if _, err := ex.ExecContext(ctx, s.q, s.args); err != nil {
			c.Close()
			return nil, fmt.Errorf("store: attach the search index %s: %s: %w", a.index, s.q, err)
		}
	}
	return c, nil
}

// Driver returns the sqlite driver.
func (a searchAttached) Driver() driver.Driver { return a.drv }

// ftsIndexer is the SQLite search indexer of one store.
type ftsIndexer struct {
	s     *sqlStore
	db    *sql.DB       // one connection to chatd.db, the index file attached; deferred transactions, so writing only the index file
	delay time.Duration // ftsDelay but in tests
	// indexed is the high-water mark: every committed text message with
	// an id at or below it is in both indexes, none above.
	indexed atomic.Int64

	flushing sync.Mutex // one flush at a time (run's, or a test's)

	mu        sync.Mutex
	committed int64     // highest id committed (the single committer's order)
	pending   int       // text messages committed above indexed
	since     time.Time // when the first of them committed
	recalled  bool      // recalls are queued for unindex: one committed since the last flush, or the last drop failed
	wake      chan struct{}
	quit      chan struct{}
	done      chan struct{}
}

// openFTSIndexer opens the index file of the SQLite database at dsn
// (rebuilding it when it cannot serve) and starts the indexer, which
// first indexes what a previous process left above the mark (all of it,
// for a new index file) and drops what it left recalled. Opening does not
// wait for that: a large store's first start with a new index file would
// take minutes (about 35 µs per message here), and searches meanwhile scan
// what is above the mark.
func (s *sqlStore) openFTSIndexer(ctx context.Context, dsn, index string, delay time.Duration) (*ftsIndexer, error) {
	if delay <= 0 {
		delay = ftsDelay
	}
	x := &ftsIndexer{s: s, db: openSearchAttached(dsn, index, 1, readerCacheKiB, 0), delay: delay,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if err := x.open(ctx); err != nil {
		x.db.Close()
		return nil, err
	}
	go x.run()
	return x, nil
}

// open reads the mark, or rebuilds the index file, and has the indexer
// start with what the last process left.
func (x *ftsIndexer) open(ctx context.Context) error {
	var top int64
	if err := x.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&top); err != nil {
		return fmt.Errorf("read the last message id: %w", err)
	}
	var tables int
	if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM search.sqlite_master WHERE name = 'index_state'`).Scan(&tables); err != nil {
		return fmt.Errorf("read the search index: %w", err)
	}
	version, mark := int64(-1), int64(0)
	if tables > 0 {
		if err := x.db.QueryRowContext(ctx, `SELECT version, indexed FROM search.index_state`).Scan(&version, &mark); err != nil {
			return fmt.Errorf("read the search index mark: %w", err)
		}
	}
	if version != searchIndexVersion || mark > top {
		if tables > 0 {
			x.s.log.Warn().Int64("version", version).Int64("mark", mark).Int64("last_message", top).
				Msg("the search index does not match the messages (another layout, or a restored backup): rebuilding it")
		}
		if err := x.rebuild(ctx); err != nil {
			return err
		}
		mark = 0
	}
	var queued int
	if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_unindex`).Scan(&queued); err != nil {
		return fmt.Errorf("read the recalls not yet dropped from the search index: %w", err)
	}
	x.indexed.Store(mark)
	x.committed = top
	if top > mark || queued > 0 {
		// What the last process left is due at once: a pending count,
		// with its first commit long ago.
		x.pending, x.recalled = int(min(top-mark, ftsBatchRows)), queued > 0
		x.wake <- struct{}{}
	}
	return nil
}

// catchUp indexes the messages with from < id <= to, ftsCatchUpRows ids
// per transaction, each moving the mark; it stops early when the indexer
// is closed.
func (x *ftsIndexer) catchUp(from, to int64) error {
	start, n := time.Now(), to-from
	if n > ftsCatchUpRows {
		x.s.log.Info().Int64("messages", n).Msg("search index: catching up; searches scan the messages not yet indexed meanwhile")
	}
	for from < to {
		select {
		case <-x.quit:
			return nil // the next open goes on from the mark
		default:
		}
		next := min(from+ftsCatchUpRows, to)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := x.index(ctx, from, next)
		cancel()
		if err != nil {
			return err
		}
		from = next
	}
	if n > ftsCatchUpRows {
		x.s.log.Info().Int64("messages", n).Dur("took", time.Since(start)).Msg("search index caught up")
	}
	return nil
}

// rebuild empties the index file and sets its layout.
func (x *ftsIndexer) rebuild(ctx context.Context) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create the search index: %w", err)
	}
	defer tx.Rollback()
	for _, q := range searchIndexSchema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create the search index: %s: %w", firstLine(q), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create the search index: %w", err)
	}
	return nil
}

// note records a committed batch: its highest id, how many of its
// messages are text, and whether it recalled any. Called by the committer
// after each commit, in id order (SQLite has one committer).
func (x *ftsIndexer) note(top int64, texts int, recalled bool) {
	x.mu.Lock()
	x.committed = max(x.committed, top)
	if texts > 0 {
		if x.pending == 0 {
			x.since = time.Now()
		}
		x.pending += texts
	}
	x.recalled = x.recalled || recalled
	first := texts > 0 && x.pending == texts
	full := x.pending >= ftsBatchRows
	x.mu.Unlock()
	if first || full || recalled {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

// run indexes what has gathered, x.delay after the first of it or at
// once when ftsBatchRows have, and drops recalled messages at once.
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
		pending, wait, recalled := x.pending, x.delay-time.Since(x.since), x.recalled
		x.mu.Unlock()
		if pending == 0 && !recalled {
			continue
		}
		if recalled || pending >= ftsBatchRows || wait <= 0 {
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

// flush indexes every committed message above the mark, then drops the
// recalled ones from the indexes.
func (x *ftsIndexer) flush() {
	x.flushing.Lock()
	defer x.flushing.Unlock()
	x.mu.Lock()
	from, to, pending, recalled := x.indexed.Load(), x.committed, x.pending, x.recalled
	x.recalled = false
	x.mu.Unlock()
	if to > from {
		if err := x.catchUp(from, to); err != nil {
			// Searches keep scanning above the mark; the next commit or
			// the next flush tries again.
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
	if !recalled {
		return // no recall queued: no query for the queue
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.unindex(ctx); err != nil {
		// Searches skip recalled messages anyway; the next flush tries
		// again.
		x.s.log.Warn().Err(err).Msg("search index: recalled messages not yet dropped")
		x.mu.Lock()
		x.recalled = true
		x.mu.Unlock()
	}
}

// index adds the text messages with from < id <= to to both indexes and
// moves the mark to to, in one transaction of the index file.
func (x *ftsIndexer) index(ctx context.Context, from, to int64) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index for search: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{qIndexTrgm, qIndexTrgmShort} {
		if _, err := tx.ExecContext(ctx, q, from, to); err != nil {
			return fmt.Errorf("index for search: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE search.index_state SET indexed = ?`, to); err != nil {
		return fmt.Errorf("index for search: move the mark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index for search: %w", err)
	}
	x.indexed.Store(to)
	return nil
}

// unindexBatch is how many queued recalls one index transaction drops.
const unindexBatch = 500

// unindex drops the messages queued in search_unindex (recalled since
// they were text) from both indexes, then from the queue. Dropping twice
// is harmless, so a crash between the two only repeats the first.
func (x *ftsIndexer) unindex(ctx context.Context) error {
	for {
		rows, err := x.db.QueryContext(ctx, `SELECT seq, id FROM search_unindex ORDER BY seq LIMIT ?`, unindexBatch)
		if err != nil {
			return fmt.Errorf("read recalled messages: %w", err)
		}
		var last int64
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&last, &id); err != nil {
				rows.Close()
				return fmt.Errorf("read recalled messages: %w", err)
			}
			ids = append(ids, -id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read recalled messages: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := x.drop(ctx, ids); err != nil {
			return fmt.Errorf("drop recalled messages: %w", err)
		}
		// The queue is chatd.db's: the writer's to change.
		if _, err := x.s.w.ExecContext(ctx, `DELETE FROM search_unindex WHERE seq <= ?`, last); err != nil {
			return fmt.Errorf("dequeue recalled messages: %w", err)
		}
		if len(ids) < unindexBatch {
			return nil
		}
	}
}

// drop deletes the index rows of rowids in one durable transaction: the
// index file is written with synchronous=NORMAL, whose last transactions a
// power cut may undo, and the recall queue entries go once this commits.
func (x *ftsIndexer) drop(ctx context.Context, rowids []any) error {
	conn, err := x.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA search.synchronous = FULL`); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `PRAGMA search.synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range []string{"messages_trgm", "messages_trgm_short"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM search.`+t+` WHERE rowid IN (`+placeholders(len(rowids))+`)`, rowids...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// close stops the indexer; what it has not indexed is indexed when the
// store is next opened.
func (x *ftsIndexer) close() {
	close(x.quit)
	<-x.done
	x.db.Close()
}
