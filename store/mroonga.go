package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The MySQL/MariaDB search index: a Mroonga table of the text messages'
// bodies (message_search), used when the server has the Mroonga engine
// (Debian: mariadb-plugin-mroonga). Its bigram tokenizer splits Latin,
// digits and symbols as it splits CJK, so a phrase query finds every body
// holding the query as a substring (and a few more, such as a body
// holding "ab" and "bc" apart for "abc", which the exact check of the
// search query drops). Bodies are stored lowered by the server's LOWER(),
// the function the exact check compares with, and the index has no
// normalizer: Mroonga's NormalizerAuto folds the case of Latin but not of
// Greek or Cyrillic letters, and composes combining marks with the
// letter before them, so "cafe" would not find "cafe\u0301".
//
// Indexing costs Mroonga more than the whole append costs InnoDB, so it is
// done off the append path, and kept exact without transactions (Mroonga
// has none): each append batch records the id range of its text messages
// in search_pending (InnoDB, one row, in the batch's transaction), and an
// indexer goroutine indexes the range from the committed messages and then
// deletes the row. Searches take the index's candidates plus every text
// message of a pending range, so a message is found from its commit on,
// whatever the indexer's lag; a crash leaves pending rows, which any
// process's indexer sweeps. Every candidate is joined to messages, which
// decides: type 'text' (not recalled), body, conversation. A recall
// removes its row once committed.
//
// search_index_state holds a row while every message is indexed or
// pending: written once the migration recorded the existing messages as
// pending, deleted when a chatd opens the database without Mroonga (the
// messages it writes go unrecorded). A store searches with the index only
// while that row is there.

const (
	searchTable     = "message_search"
	searchStateName = "messages"
	// indexerRows caps the messages one indexer statement writes.
	indexerRows = 500
	// sweepEvery is how often an indexer looks for pending ranges no
	// process indexed (left by a crash or a failed write), and sweepAge
	// how old such a range must be.
	sweepEvery = 10 * time.Second
	sweepAge   = 30 * time.Second
	// indexerDelay is how long the indexer lets committed ranges gather.
	indexerDelay = 20 * time.Millisecond
)

// searchIndexComment configures the index's tokenizer; a table made with
// another (an earlier chatd's) is rebuilt.
const searchIndexComment = `tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "none"`

// searchBackfillBatch is how many existing messages one pending range of
// the migration covers (a variable for tests).
var searchBackfillBatch = 5000

var (
	qCreateSearchState   = `CREATE TABLE IF NOT EXISTS search_index_state (name VARCHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY, ready_at BIGINT NOT NULL) ENGINE=InnoDB`
	qCreateSearchPending = `CREATE TABLE IF NOT EXISTS search_pending (first_id BIGINT NOT NULL PRIMARY KEY, last_id BIGINT NOT NULL, created_at BIGINT NOT NULL) ENGINE=InnoDB`
	qCreateSearchTable   = `CREATE TABLE IF NOT EXISTS ` + searchTable + ` (
		id BIGINT NOT NULL PRIMARY KEY,
		body MEDIUMTEXT NOT NULL,
		FULLTEXT INDEX body_ft (body) COMMENT '` + searchIndexComment + `'
	) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
	// The index's candidates of a phrase below an id, newest first: a
	// query of the Mroonga table alone, which Mroonga answers sorting
	// the hits itself ("fast order limit"). Args: phrase, before, limit.
	qSearchCandidates = `SELECT id FROM ` + searchTable + ` WHERE MATCH(body) AGAINST(? IN BOOLEAN MODE) AND id < ? ORDER BY id DESC LIMIT ?`
	// The candidates (%[2]s: their marks) that are text messages passing
	// the conditions. %[1]s: the user's memberships join; %[3]s: more
	// conditions. Args: [user], the ids, [conditions'], limit.
	qSearchCheck = `SELECT ` + msgColsM + ` FROM messages m%[1]s
		WHERE m.id IN (%[2]s) AND m.type = 'text'%[3]s ORDER BY m.id DESC LIMIT ?`
	// The text messages of the pending ranges (%[3]s: their conditions)
	// passing the conditions, newest first. Args: [user], the ranges',
	// before, [conditions'], limit.
	qSearchPending = `SELECT ` + msgColsM + ` FROM messages m%[1]s
		WHERE (%[3]s) AND m.id < ? AND m.type = 'text'%[2]s ORDER BY m.id DESC LIMIT ?`
	// What a search reads before the index: the state (a row of -1s
	// when the index is complete) and the pending ranges.
	qSearchPlan = `SELECT -1, -1 FROM search_index_state WHERE name = ?
		UNION ALL (SELECT first_id, last_id FROM search_pending ORDER BY first_id DESC LIMIT ?)`
	// The newest ids of a search (see defaultSearchWindow), scanned:
	// %[1]s: the user's memberships join; %[2]s: more conditions. Args: [user], lo, before, [conditions'],
	// limit.
	qSearchWindow = `SELECT ` + msgColsM + ` FROM messages m%[1]s
		WHERE m.id >= ? AND m.id < ? AND m.type = 'text'%[2]s ORDER BY m.id DESC LIMIT ?`
	qUserConvsMy = ` JOIN conv_members cm ON cm.user_id = ? AND cm.conv = m.conv`
)

// idRange is the text messages of one append batch, first..last.
type idRange struct{ first, last int64 }

// mroonga is the state of the search index in one store.
type mroonga struct {
	// on: the index is kept (the engine is there and its table exists):
	// appends record pending ranges and the indexer runs.
	on atomic.Bool
	// warned: the incomplete-index notice was logged.
	warned atomic.Bool

	mu    sync.Mutex
	queue []idRange // committed ranges for this process's indexer
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}
}

// setupSearchIndex finds out whether the server has Mroonga and, if so,
// creates the index, records the messages written before it as pending
// (once: several processes opening together wait for the one that does
// it) and starts the indexer.
func (s *sqlStore) setupSearchIndex(ctx context.Context, disabled bool) error {
	if s.d != mysqlDialect {
		return nil
	}
	for _, q := range []string{qCreateSearchState, qCreateSearchPending} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("search index: %w", err)
		}
	}
	var support string
	err := s.w.QueryRowContext(ctx, `SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'Mroonga'`).Scan(&support)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("search index: read engines: %w", err)
	}
	if disabled || (support != "YES" && support != "DEFAULT") {
		// Messages written from now on are not recorded: a later start
		// with Mroonga must index them before searching with it.
		if _, err := s.w.ExecContext(ctx, `DELETE FROM search_index_state WHERE name = ?`, searchStateName); err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		s.log.Warn().Msg("msg.search is unindexed on this MySQL/MariaDB server: every search scans the user's conversations, which is slow over millions of messages. " +
			"To index it on MariaDB: install the Mroonga engine (Debian: apt-get install mariadb-plugin-mroonga), run INSTALL SONAME 'ha_mroonga' as root, and restart chatd")
		return nil
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	// Named after the database, as the migration lock is.
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(CONCAT('chatd_search:', DATABASE()), 600)`).Scan(&got); err != nil || got.Int64 != 1 {
		return fmt.Errorf("search index: take lock: %v: %w", got, wrapUnavailable(err))
	}
	defer conn.ExecContext(context.Background(), `SELECT RELEASE_LOCK(CONCAT('chatd_search:', DATABASE()))`)
	var exists int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, searchTable).Scan(&exists); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	if exists > 0 {
		var comment string
		err := conn.QueryRowContext(ctx, `SELECT INDEX_COMMENT FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'body_ft'`, searchTable).Scan(&comment)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("search index: %w", err)
		}
		if comment != searchIndexComment {
			s.log.Info().Str("was", comment).Msg("msg.search index (Mroonga): tokenizer settings changed; rebuilding it")
			if _, err := conn.ExecContext(ctx, `DROP TABLE `+searchTable); err != nil {
				return fmt.Errorf("search index: drop the old one: %w", err)
			}
			exists = 0
		}
	}
	if exists == 0 {
		// A new table (or one a restore left out) indexes nothing yet,
		// whatever the state row (a restored one) says.
		if _, err := conn.ExecContext(ctx, `DELETE FROM search_index_state WHERE name = ?`, searchStateName); err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		if _, err := conn.ExecContext(ctx, qCreateSearchTable); err != nil {
			return fmt.Errorf("search index: create: %w", err)
		}
	}
	// From here this store's appends record their messages, so the
	// migration below only needs to cover those older than its start.
	s.search.on.Store(true)
	var ready int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_index_state WHERE name = ?`, searchStateName).Scan(&ready); err != nil {
		s.search.on.Store(false)
		return fmt.Errorf("search index: %w", err)
	}
	if ready == 0 {
		n, err := s.recordExisting(ctx, conn)
		if err != nil {
			s.search.on.Store(false)
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO search_index_state (name, ready_at) VALUES (?, ?)`, searchStateName, time.Now().UnixMilli()); err != nil {
			s.search.on.Store(false)
			return fmt.Errorf("search index: %w", err)
		}
		s.log.Info().Int("ranges", n).Msg("msg.search index (Mroonga): existing messages recorded; the indexer works through them in the background, searches find them meanwhile")
	}
	s.search.wake = make(chan struct{}, 1)
	s.search.quit = make(chan struct{})
	s.search.done = make(chan struct{})
	go s.runIndexer()
	return nil
}

// recordExisting records every message as pending, in ranges of
// searchBackfillBatch messages from the newest down (the indexer takes
// the newest first), and returns how many ranges it wrote. Re-indexing a
// message already indexed is harmless.
func (s *sqlStore) recordExisting(ctx context.Context, conn *sql.Conn) (int, error) {
	var top sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT MAX(id) FROM messages`).Scan(&top); err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	n := 0
	for hi := top.Int64 + 1; hi > 0; {
		var lo sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT MIN(id) FROM (SELECT id FROM messages WHERE id < ? ORDER BY id DESC LIMIT ?) t`, hi, searchBackfillBatch).Scan(&lo); err != nil {
			return n, fmt.Errorf("search index: migration: %w", err)
		}
		if !lo.Valid {
			break
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO search_pending (first_id, last_id, created_at) VALUES (?, ?, 0)
			ON DUPLICATE KEY UPDATE last_id = GREATEST(last_id, VALUES(last_id)), created_at = 0`, lo.Int64, hi-1); err != nil {
			return n, fmt.Errorf("search index: migration: %w", err)
		}
		n++
		hi = lo.Int64
	}
	return n, nil
}

// textRange returns the id range of a batch's text messages (ids of one
// batch are consecutive and belong to it alone).
func textRange(rows []*Message) (idRange, bool) {
	r, ok := idRange{}, false
	for _, m := range rows {
		if m.Type != TypeText {
			continue
		}
		if !ok {
			r, ok = idRange{m.ID, m.ID}, true
		}
		r.first, r.last = min(r.first, m.ID), max(r.last, m.ID)
	}
	return r, ok
}

// recordPending records a batch's text messages as pending, in its
// transaction.
func (c *committer) recordPending(ctx context.Context, tx *sql.Tx, rows []*Message) (idRange, bool, error) {
	if !c.s.search.on.Load() {
		return idRange{}, false, nil
	}
	r, ok := textRange(rows)
	if !ok {
		return r, false, nil
	}
	// A retried batch reuses its ids: the row may be there already.
	_, err := tx.ExecContext(ctx, `INSERT INTO search_pending (first_id, last_id, created_at) VALUES (?, ?, ?)
		ON DUPLICATE KEY UPDATE last_id = VALUES(last_id)`, r.first, r.last, time.Now().UnixMilli())
	return r, err == nil, err
}

// indexLater hands a committed range to the indexer. It never blocks: a
// range that does not fit waits in search_pending for a sweep.
func (s *sqlStore) indexLater(r idRange) {
	s.search.mu.Lock()
	if len(s.search.queue) < 100000 {
		s.search.queue = append(s.search.queue, r)
	}
	s.search.mu.Unlock()
	select {
	case s.search.wake <- struct{}{}:
	default:
	}
}

// stopIndexer stops the indexer; what it had not indexed stays pending.
func (s *sqlStore) stopIndexer() {
	if s.search.quit != nil {
		close(s.search.quit)
		<-s.search.done
	}
}

// runIndexer indexes this process's committed ranges as they come, and
// sweeps ranges nobody indexed: all of them at start (a crash may have
// left some), then those older than sweepAge every sweepEvery.
func (s *sqlStore) runIndexer() {
	defer close(s.search.done)
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	sweepBefore := time.Now().UnixMilli() + 1 // everything there at start
	backoff := time.Duration(0)
	for {
		select {
		case <-s.search.quit:
			return
		default:
		}
		if sweepBefore > 0 {
			ranges, err := s.pendingRanges(sweepBefore)
			if err == nil {
				err = s.indexRanges(ranges)
			}
			if err != nil {
				s.log.Warn().Err(err).Msg("msg.search indexer: sweep failed; searches still find the pending messages")
			} else if len(ranges) == indexerSweepLimit {
				continue // more to sweep
			}
			sweepBefore = 0
		}
		s.search.mu.Lock()
		q := s.search.queue
		s.search.queue = nil
		s.search.mu.Unlock()
		if len(q) > 0 {
			if err := s.indexRanges(q); err != nil {
				// Left pending: the sweep retries them.
				s.log.Warn().Err(err).Msg("msg.search indexer: write failed; searches still find the pending messages")
				backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			} else {
				backoff = 0
			}
		}
		if backoff > 0 {
			select {
			case <-s.search.quit:
				return
			case <-time.After(backoff):
			}
		}
		select {
		case <-s.search.quit:
			return
		case <-s.search.wake:
			// Let more batches commit: one statement for many of them
			// costs Mroonga far less than one each.
			select {
			case <-s.search.quit:
				return
			case <-time.After(indexerDelay):
			}
		case <-tick.C:
			sweepBefore = time.Now().Add(-sweepAge).UnixMilli()
		}
	}
}

// indexerSweepLimit is how many pending ranges one sweep step reads.
const indexerSweepLimit = 100

// pendingRanges reads pending ranges recorded before ms (newest first).
func (s *sqlStore) pendingRanges(before int64) ([]idRange, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := s.w.QueryContext(ctx, `SELECT first_id, last_id FROM search_pending WHERE created_at < ? ORDER BY first_id DESC LIMIT ?`, before, indexerSweepLimit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []idRange
	for rows.Next() {
		var r idRange
		if err := rows.Scan(&r.first, &r.last); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// indexRanges indexes the text messages of ranges from their committed
// rows (a message recalled meanwhile is no longer text and is skipped),
// then deletes the ranges from search_pending. Ranges are taken together,
// up to indexerRows messages per statement: Mroonga's cost per statement
// is high.
func (s *sqlStore) indexRanges(ranges []idRange) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(ranges) > 0 {
		// A group of ranges of at most indexerRows ids (one, if larger).
		n, ids := 0, int64(0)
		for n < len(ranges) && n < 100 && (n == 0 || ids+ranges[n].last-ranges[n].first+1 <= indexerRows) {
			ids += ranges[n].last - ranges[n].first + 1
			n++
		}
		group := ranges[:n]
		ranges = ranges[n:]
		if err := s.indexGroup(ctx, group); err != nil {
			return err
		}
		select {
		case <-s.search.quit:
			// Closing: a large backlog (a migration) must not hold up
			// the shutdown; what is left stays pending.
			return nil
		default:
		}
	}
	return nil
}

// indexGroup indexes a group of ranges and marks them done.
func (s *sqlStore) indexGroup(ctx context.Context, group []idRange) error {
	cond := strings.TrimSuffix(strings.Repeat("id BETWEEN ? AND ? OR ", len(group)), " OR ")
	firsts := make([]any, 0, len(group))
	for _, r := range group {
		firsts = append(firsts, r.first)
	}
	var after int64 = -1
	for {
		args := make([]any, 0, 2*len(group)+2)
		for _, r := range group {
			args = append(args, r.first, r.last)
		}
		args = append(args, after, indexerRows)
		rows, err := s.w.QueryContext(ctx, `SELECT id, body FROM messages WHERE (`+cond+`) AND id > ? AND type = 'text' ORDER BY id LIMIT ?`, args...)
		if err != nil {
			return fmt.Errorf("read pending messages: %w", err)
		}
		var vals []any
		for rows.Next() {
			var id int64
			var body string
			if err := rows.Scan(&id, &body); err != nil {
				rows.Close()
				return err
			}
			vals = append(vals, id, body)
			after = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(vals) > 0 {
			q := `INSERT INTO ` + searchTable + ` (id, body) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,LOWER(?)),", len(vals)/2), ",") +
				` ON DUPLICATE KEY UPDATE body = VALUES(body)`
			if _, err := s.w.ExecContext(ctx, q, vals...); err != nil {
				return fmt.Errorf("index pending messages: %w", err)
			}
		}
		if len(vals)/2 < indexerRows {
			break
		}
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM search_pending WHERE first_id IN (`+placeholders(len(firsts))+`)`, firsts...); err != nil {
		return fmt.Errorf("mark pending messages indexed: %w", err)
	}
	return nil
}

// unindexRecalled drops recalled messages from the index, after their
// recall committed (searches skip them anyway: they are no longer text).
func (s *sqlStore) unindexRecalled(ids []int64) {
	if len(ids) == 0 || !s.search.on.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.w.ExecContext(ctx, `DELETE FROM `+searchTable+` WHERE id IN (`+placeholders(len(ids))+`)`, int64Args(ids)...); err != nil {
		s.log.Warn().Err(err).Int("messages", len(ids)).Msg("msg.search index: recalled text left in the index (searches skip it)")
	}
}

// maxPendingRanges is the most pending ranges a search reads; with more
// (an indexer far behind) it scans instead.
const maxPendingRanges = 1000

// searchPlan reports whether searches may use the index now and, if so,
// the ranges still pending. It must run before the index is read: a range
// the indexer finishes meanwhile is then both in the list and in the
// index, never in neither. (Within one statement MariaDB reads the index
// when it plans the query, before InnoDB's snapshot, so a single
// statement cannot give this order.)
func (s *sqlStore) searchPlan(ctx context.Context) (bool, []idRange, error) {
	if !s.search.on.Load() {
		return false, nil, nil
	}
	rows, err := s.r.QueryContext(ctx, qSearchPlan, searchStateName, maxPendingRanges+1)
	if err != nil {
		return false, nil, err
	}
	defer rows.Close()
	ready := false
	var ranges []idRange
	for rows.Next() {
		var r idRange
		if err := rows.Scan(&r.first, &r.last); err != nil {
			return false, nil, err
		}
		if r.first == -1 {
			ready = true
		} else {
			ranges = append(ranges, r)
		}
	}
	if err := rows.Err(); err != nil {
		return false, nil, err
	}
	return ready && len(ranges) <= maxPendingRanges, ranges, nil
}

// mroongaPhrase is the boolean-mode query for substring q: one phrase,
// with its quotes and backslashes escaped. ok is false when q has nothing
// the tokenizer indexes (blanks only): such a query scans instead.
func mroongaPhrase(q string) (string, bool) {
	if strings.TrimSpace(q) == "" {
		return "", false
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(strings.ToLower(q)) + `"`, true
}
