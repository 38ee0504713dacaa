// Package store is chatd's durable state: users and sessions, friends,
// groups, conversations with their sequence counters, messages with their
// idempotency keys, per-user ack and read cursors, and file metadata,
// behind one Store interface with two backends that share one SQL
// implementation (dialect differences live in dialect.go): MySQL/MariaDB
// through go-sql-driver/mysql, and the embedded default, a pure-Go SQLite
// file (modernc.org/sqlite, WAL) under the data directory. Schema migrations
// are versioned and applied at Open (or alone with Migrate); a newer schema
// is refused with ErrSchemaTooNew. Messages, the hot path, are group
// committed: a committer goroutine (or several, Config.Committers, each
// owning a share of the conversations) gathers concurrent AppendMessage
// calls into one transaction (up to Config.BatchSize, waiting at most
// Config.BatchWindow for more when recent batches were shared), assigns each
// conversation's next gapless seq under a row lock (SELECT ... FOR UPDATE on
// MySQL, so several chatd processes can share a database), and answers every
// caller only after the commit; on failure the whole batch rolls back and
// every caller gets the error (ErrUnavailable when the database is
// unreachable). A batch sends many rows per statement to MySQL (round trips
// dominate) and runs statements prepared once on SQLite, 64-row blocks then
// single rows (parsing dominates in process). Message ids come from blocks
// each process reserves from a counter row. Durability: MySQL InnoDB commits
// durably by default (innodb_flush_log_at_trx_commit=1); SQLite runs WAL
// with synchronous=FULL by default, one fsync per batch, so an acknowledged
// message survives a power loss too; Config.SQLiteSynchronous "NORMAL"
// trades that for speed and still survives a crash or kill -9 of the
// process (the WAL is then in the OS page cache).
//
// Conversation ids are stored in their wire form; protocol.ConvID owns
// their format and parse (protocol.PrivateConv, protocol.GroupConv,
// protocol.ParseConv), and this package only uses them.
//
// Protocol 1.1 state rides the same paths: a recall is appended through
// the group commit like any message and rewrites the recalled row in the
// same transaction; mentions are indexed per (conversation, user) for
// mention seqs; message search uses FTS5 trigram indexes on SQLite, kept
// in a database file of their own and fed in batches by an indexer
// goroutine (search.go, ftsindex.go), and a Mroonga
// index on MySQL/MariaDB when the server has the engine (mroonga.go).
package store
