package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migration is one schema version: statements with {{...}} type
// placeholders that the dialect fills in, then the statements of one
// backend only.
type migration struct {
	version int
	stmts   []string
	sqlite  []string
	mysql   []string
}

// migrations are applied in order; never edit a released one, add a new one.
var migrations = []migration{
	{1, []string{
		`CREATE TABLE users (
			id {{ID}},
			username VARCHAR(32) NOT NULL,
			username_key VARCHAR(32) NOT NULL,
			nickname VARCHAR(255) NOT NULL,
			nick_key VARCHAR(255) NOT NULL,
			signature VARCHAR(1024) NOT NULL DEFAULT '',
			avatar {{BLOB}} NULL,
			avatar_sha256 VARCHAR(64) NOT NULL DEFAULT '',
			password_hash VARCHAR(255) NOT NULL,
			created_at BIGINT NOT NULL,
			UNIQUE (username_key)){{TBL}}`,
		`CREATE TABLE sessions (
			token_hash VARBINARY(32) NOT NULL PRIMARY KEY,
			user_id BIGINT NOT NULL,
			device VARCHAR(64) NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE){{TBL}}`,
		`CREATE INDEX sessions_expires ON sessions (expires_at)`,
		`CREATE TABLE friend_requests (
			id {{ID}},
			from_id BIGINT NOT NULL,
			to_id BIGINT NOT NULL,
			note VARCHAR(1024) NOT NULL,
			status INT NOT NULL,
			notified INT NOT NULL DEFAULT 0,
			created_at BIGINT NOT NULL,
			responded_at BIGINT NOT NULL DEFAULT 0,
			FOREIGN KEY (from_id) REFERENCES users(id) ON DELETE CASCADE,
			FOREIGN KEY (to_id) REFERENCES users(id) ON DELETE CASCADE){{TBL}}`,
		`CREATE INDEX fr_to ON friend_requests (to_id, status, id)`,
		`CREATE INDEX fr_from ON friend_requests (from_id, status, id)`,
		`CREATE TABLE friends (
			user_id BIGINT NOT NULL,
			friend_id BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			PRIMARY KEY (user_id, friend_id),
			FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
			FOREIGN KEY (friend_id) REFERENCES users(id) ON DELETE CASCADE){{TBL}}`,
		`CREATE TABLE chat_groups (
			id {{ID}},
			name VARCHAR(255) NOT NULL,
			owner_id BIGINT NOT NULL,
			created_at BIGINT NOT NULL){{TBL}}`,
		`CREATE TABLE conversations (
			id {{CONV}} NOT NULL PRIMARY KEY,
			last_seq BIGINT NOT NULL DEFAULT 0,
			last_ts BIGINT NOT NULL DEFAULT 0){{TBL}}`,
		`CREATE TABLE conv_members (
			user_id BIGINT NOT NULL,
			conv {{CONV}} NOT NULL,
			ack_seq BIGINT NOT NULL DEFAULT 0,
			read_seq BIGINT NOT NULL DEFAULT 0,
			joined_at BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (user_id, conv)){{TBL}}`,
		`CREATE INDEX cm_conv ON conv_members (conv, user_id)`,
		// No foreign keys on messages: they would cost a lookup per row on
		// the hot path and every writer already checked the conversation.
		`CREATE TABLE messages (
			id {{IDPK}},
			conv {{CONV}} NOT NULL,
			seq BIGINT NOT NULL,
			from_id BIGINT NOT NULL,
			ts BIGINT NOT NULL,
			type VARCHAR(16) NOT NULL,
			body {{TEXT}} NOT NULL,
			client_msg_id {{BINSTR}} NULL,
			UNIQUE (conv, seq),
			UNIQUE (client_msg_id, from_id)){{TBL}}`,
		`CREATE TABLE id_counters (
			name VARCHAR(32) NOT NULL PRIMARY KEY,
			next_id BIGINT NOT NULL){{TBL}}`,
		`INSERT INTO id_counters (name, next_id) VALUES ('msg', 1)`,
		`CREATE TABLE files (
			id {{ID}},
			owner_id BIGINT NOT NULL,
			conv {{CONV}} NOT NULL,
			name VARCHAR(255) NOT NULL,
			size BIGINT NOT NULL,
			sha256 VARCHAR(64) NOT NULL,
			created_at BIGINT NOT NULL,
			completed_at BIGINT NOT NULL DEFAULT 0){{TBL}}`,
	}, nil, nil},
	// v2: user search by nickname prefix and unnotified friend answers
	// without scanning.
	{2, []string{
		`CREATE INDEX users_nick ON users (nick_key)`,
		`CREATE INDEX fr_unnotified ON friend_requests (from_id, notified, status)`,
	}, nil, nil},
	// v3: protocol 1.1. Messages carry mentions, mention_all, reply_to and
	// the seq of the recall that recalled them (0: not recalled);
	// message_mentions indexes mentions by (conv, user) for mention_seq
	// (user 0 stands for mention_all; rows go away with a recall). Groups
	// gain a notice, members a role (owner is chat_groups.owner_id, so the
	// column holds admin or member) and a mute. Accounts can be deleted;
	// sessions are found by device and groups by owner. Files remember a recall.
	{3, []string{
		`ALTER TABLE users ADD COLUMN deleted_at BIGINT NOT NULL DEFAULT 0`,
		`CREATE INDEX sessions_user ON sessions (user_id, device)`,
		`ALTER TABLE chat_groups ADD COLUMN notice VARCHAR(4096) NOT NULL DEFAULT ''`,
		`CREATE INDEX groups_owner ON chat_groups (owner_id)`,
		`ALTER TABLE conv_members ADD COLUMN role VARCHAR(8) NOT NULL DEFAULT 'member'`,
		`ALTER TABLE conv_members ADD COLUMN muted_until BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE messages ADD COLUMN mentions VARCHAR(1024) NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN mention_all INT NOT NULL DEFAULT 0`,
		`ALTER TABLE messages ADD COLUMN reply_to BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE messages ADD COLUMN recall_seq BIGINT NOT NULL DEFAULT 0`,
		`CREATE TABLE message_mentions (
			conv {{CONV}} NOT NULL,
			user_id BIGINT NOT NULL,
			seq BIGINT NOT NULL,
			from_id BIGINT NOT NULL,
			PRIMARY KEY (conv, user_id, seq)){{TBL}}`,
		`ALTER TABLE files ADD COLUMN recalled INT NOT NULL DEFAULT 0`,
	},
		// msg.search on SQLite: an FTS5 trigram index over the bodies of
		// text messages (external content: the bodies stay in messages),
		// kept by triggers; a recall rewrites the body, so it leaves.
		// Queries of one or two characters have no trigram; they use a
		// second index, of each body's distinct characters x written as
		// "xxx" and distinct pairs xy as "xyy" (chatd_short_grams,
		// search.go), so that such a query is one trigram. It needs no
		// positions (detail none) nor content (contentless, rows deleted
		// by rowid).
		[]string{
			`CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id', tokenize='trigram')`,
			`CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.type = 'text' BEGIN
				INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
			END`,
			`CREATE TRIGGER messages_fts_update AFTER UPDATE OF type, body ON messages WHEN old.type = 'text' BEGIN
				INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
			END`,
			`INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE type = 'text'`,
			`CREATE VIRTUAL TABLE messages_fts_short USING fts5(body, content='', contentless_delete=1, detail='none', tokenize='trigram')`,
			`CREATE TRIGGER messages_fts_short_insert AFTER INSERT ON messages WHEN new.type = 'text' BEGIN
				INSERT INTO messages_fts_short (rowid, body) VALUES (new.id, chatd_short_grams(new.body));
			END`,
			`CREATE TRIGGER messages_fts_short_update AFTER UPDATE OF type, body ON messages WHEN old.type = 'text' BEGIN
				DELETE FROM messages_fts_short WHERE rowid = old.id;
			END`,
			`INSERT INTO messages_fts_short (rowid, body) SELECT id, chatd_short_grams(body) FROM messages WHERE type = 'text'`,
		},
		nil,
	},
	// v4: accounts an administrator disabled (chatd user disable).
	{version: 4, stmts: []string{
		`ALTER TABLE users ADD COLUMN disabled INT NOT NULL DEFAULT 0`,
	}},
	// v5: SQLite's search indexes keyed by -id instead of id, so that
	// newest first is FTS5's ascending order: walked descending, FTS5
	// reads each term's whole doclist into memory before the first row
	// (two to three times slower on a million messages); ascending, it
	// stops at the page's end and skips through long doclists. Both are
	// contentless (rowid -id matches no messages row, and deletes need no
	// old body), rebuilt from messages.
	{version: 5, sqlite: []string{
		`DROP TRIGGER messages_fts_insert`,
		`DROP TRIGGER messages_fts_update`,
		`DROP TABLE messages_fts`,
		`DROP TRIGGER messages_fts_short_insert`,
		`DROP TRIGGER messages_fts_short_update`,
		`DROP TABLE messages_fts_short`,
		`CREATE VIRTUAL TABLE messages_trgm USING fts5(body, content='', contentless_delete=1, tokenize='trigram')`,
		`CREATE TRIGGER messages_trgm_insert AFTER INSERT ON messages WHEN new.type = 'text' BEGIN
			INSERT INTO messages_trgm (rowid, body) VALUES (-new.id, new.body);
		END`,
		`CREATE TRIGGER messages_trgm_update AFTER UPDATE OF type, body ON messages WHEN old.type = 'text' BEGIN
			DELETE FROM messages_trgm WHERE rowid = -old.id;
		END`,
		`INSERT INTO messages_trgm (rowid, body) SELECT -id, body FROM messages WHERE type = 'text' ORDER BY id DESC`,
		`CREATE VIRTUAL TABLE messages_trgm_short USING fts5(body, content='', contentless_delete=1, detail='none', tokenize='trigram')`,
		`CREATE TRIGGER messages_trgm_short_insert AFTER INSERT ON messages WHEN new.type = 'text' BEGIN
			INSERT INTO messages_trgm_short (rowid, body) VALUES (-new.id, chatd_short_grams(new.body));
		END`,
		`CREATE TRIGGER messages_trgm_short_update AFTER UPDATE OF type, body ON messages WHEN old.type = 'text' BEGIN
			DELETE FROM messages_trgm_short WHERE rowid = -old.id;
		END`,
		`INSERT INTO messages_trgm_short (rowid, body) SELECT -id, chatd_short_grams(body) FROM messages WHERE type = 'text' ORDER BY id DESC`,
	}},
	// v6: several nodes (protocol section 19). A file remembers the node
	// that took its upload and holds its bytes, so file.fetch on another
	// node can send the client there ('' on a single server and for files
	// offered before this version).
	{version: 6, stmts: []string{
		`ALTER TABLE files ADD COLUMN node VARCHAR(64) NOT NULL DEFAULT ''`,
	}},
	// v7: SQLite's search indexes are fed in batches by an indexer
	// (ftsindex.go), not by a trigger per appended row: FTS5 writes a
	// segment per transaction, and the triggers' descending rowids (-id)
	// even made it write one per row, which cut 1:1 chat on the embedded
	// store from about 28,000 to 4,000 messages/s. search_indexed holds
	// the indexer's mark; the triggers indexed every message so far. The
	// delete triggers (a recall) stay.
	{version: 7, sqlite: []string{
		`DROP TRIGGER messages_trgm_insert`,
		`DROP TRIGGER messages_trgm_short_insert`,
		`CREATE TABLE search_indexed (id BIGINT NOT NULL)`,
		`INSERT INTO search_indexed (id) SELECT COALESCE(MAX(id), 0) FROM messages`,
	}},
	// v8: a group keeps its member count, kept with every membership
	// change, so that a login and a join stop counting every member of
	// every group: counting made a login cost O(members) per group, and
	// filling a 10,000-member group O(members²).
	{version: 8, stmts: []string{
		`ALTER TABLE chat_groups ADD COLUMN member_count INT NOT NULL DEFAULT 0`,
	}, sqlite: []string{
		`UPDATE chat_groups SET member_count = (SELECT COUNT(*) FROM conv_members WHERE conv = 'g:' || chat_groups.id)`,
	}, mysql: []string{
		`UPDATE chat_groups g SET member_count = (SELECT COUNT(*) FROM conv_members WHERE conv = CONCAT('g:', g.id))`,
	}},
	// v9: SQLite's search indexes move to a database file of their own
	// (ftsindex.go), so that indexing never holds the lock message commits
	// wait for; the indexer builds them there from the messages. A recall
	// cannot reach into that file by trigger: it queues the message in
	// search_unindex for the indexer instead.
	{version: 9, sqlite: []string{
		`DROP TRIGGER messages_trgm_update`,
		`DROP TRIGGER messages_trgm_short_update`,
		`DROP TABLE messages_trgm`,
		`DROP TABLE messages_trgm_short`,
		`DROP TABLE search_indexed`,
		`CREATE TABLE search_unindex (seq INTEGER PRIMARY KEY, id BIGINT NOT NULL)`,
		`CREATE TRIGGER messages_unindex AFTER UPDATE OF type, body ON messages WHEN old.type = 'text' BEGIN
			INSERT INTO search_unindex (id) VALUES (old.id);
		END`,
	}},
}

// latestVersion is the schema version this build writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// schemaVersion reads the version; 0 for an empty database.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if err == nil {
		return v, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	// The table is missing in an empty database; create it.
	if _, cerr := q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)`); cerr != nil {
		return 0, fmt.Errorf("create schema_version: %w (after %v)", cerr, err)
	}
	return 0, nil
}

// querier is what both *sql.Conn and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrateTo brings the schema to version target. It holds a lock so
// several processes starting together migrate once: GET_LOCK on MySQL, the
// write lock of an immediate transaction on SQLite (where DDL is
// transactional, so a migration applies entirely or not at all; on MySQL
// DDL commits implicitly, so each statement is applied on its own).
func migrateTo(ctx context.Context, db *sql.DB, d *dialect, target int) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", wrapUnavailable(err))
	}
	defer conn.Close()
	var q querier = conn
	var tx *sql.Tx
	if d == mysqlDialect {
		var got sql.NullInt64
		// The lock is named after the database: GET_LOCK names are
		// server-wide, and one database's long migration must not hold up
		// chatds of other databases on the same server.
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(CONCAT('chatd_migrate:', DATABASE()), 60)`).Scan(&got); err != nil || got.Int64 != 1 {
			return 0, fmt.Errorf("migrate: take lock: %v: %w", got, wrapUnavailable(err))
		}
		defer conn.ExecContext(context.Background(), `SELECT RELEASE_LOCK(CONCAT('chatd_migrate:', DATABASE()))`)
	} else {
		if tx, err = conn.BeginTx(ctx, nil); err != nil { // _txlock=immediate
			return 0, fmt.Errorf("migrate: begin: %w", wrapUnavailable(err))
		}
		defer tx.Rollback()
		q = tx
	}
	cur, err := schemaVersion(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", wrapUnavailable(err))
	}
	if cur > latestVersion() {
		return cur, fmt.Errorf("schema version %d, this chatd knows up to %d: %w", cur, latestVersion(), ErrSchemaTooNew)
	}
	for _, m := range migrations {
		if m.version <= cur || m.version > target {
			continue
		}
		only := m.sqlite
		if d == mysqlDialect {
			only = m.mysql
		}
		for _, s := range append(append([]string(nil), m.stmts...), only...) {
			if _, err := q.ExecContext(ctx, d.ddl.Replace(s)); err != nil {
				return cur, fmt.Errorf("migrate to v%d: %q: %w", m.version, firstLine(s), err)
			}
		}
		if cur == 0 {
			_, err = q.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, m.version)
		} else {
			_, err = q.ExecContext(ctx, `UPDATE schema_version SET version = ?`, m.version)
		}
		if err != nil {
			return cur, fmt.Errorf("migrate to v%d: record version: %w", m.version, err)
		}
		cur = m.version
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("migrate: commit: %w", wrapUnavailable(err))
		}
	}
	return cur, nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// wrapUnavailable marks database-unreachable errors with ErrUnavailable.
func wrapUnavailable(err error) error {
	if err != nil && isUnavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
