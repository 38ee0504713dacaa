package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // registers "sqlite"
)

const (
	defaultBatchSize   = 512
	defaultBatchWindow = 500 * time.Microsecond
	// idBlock is how many message ids one process reserves at a time, so
	// processes sharing a database do not contend on the counter row.
	idBlock = 4096
)

// Open opens (creating if needed) the database cfg names, applies pending
// migrations and starts the group committer.
func Open(ctx context.Context, cfg Config) (Store, error) {
	s, err := open(ctx, cfg, 0)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Migrate applies pending migrations to the database cfg names and returns
// the schema version it left; it starts nothing (for `chatd migrate`).
func Migrate(ctx context.Context, cfg Config) (int, error) {
	w, r, d, err := openDBs(cfg)
	if err != nil {
		return 0, err
	}
	defer closeDBs(w, r)
	return migrateTo(ctx, w, d, latestVersion())
}

// open is Open with a migration target (0: latest) for tests of upgrades.
func open(ctx context.Context, cfg Config, target int) (*sqlStore, error) {
	if target == 0 {
		target = latestVersion()
	}
	w, r, d, err := openDBs(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := migrateTo(ctx, w, d, target); err != nil {
		closeDBs(w, r)
		return nil, fmt.Errorf("store: open %s: %w", d.name, err)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = cfg.Logger.With().Str("component", "store").Str("driver", d.name).Logger()
	}
	s := &sqlStore{d: d, w: w, r: r, log: log,
		writes: newPool(w, d == sqliteDialect), reads: newPool(r, d == sqliteDialect)}
	if d == sqliteDialect {
		if s.prep, err = prepare(ctx, w); err != nil {
			closeDBs(w, r)
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
	}
	s.searchWindow, s.searchChunk = defaultSearchWindow, defaultSearchChunk
	if cfg.searchChunk > 0 {
		s.searchChunk = cfg.searchChunk
	}
	if cfg.searchWindow != 0 {
		s.searchWindow = max(cfg.searchWindow, 0)
	}
	if err := s.setupSearchIndex(ctx, cfg.noSearchIndex); err != nil {
		closeDBs(w, r)
		return nil, fmt.Errorf("store: open %s: %w", d.name, err)
	}
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = defaultBatchWindow
	}
	if cfg.Committers <= 0 || d == sqliteDialect {
		// SQLite has one writer, and its search indexer follows the
		// commits in id order.
		cfg.Committers = 1
	}
	if d == sqliteDialect {
		dsn, path, _ := sqliteDSN(cfg) // openDBs took it
		if s.fts, err = s.openFTSIndexer(ctx, dsn+"&_txlock=deferred", searchIndexPath(path), cfg.ftsDelay); err != nil {
			s.prep.close()
			closeDBs(w, r)
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
	}
	s.c = newCommitter(s, cfg.BatchSize, cfg.BatchWindow, cfg.Committers)
	s.c.onBatch = cfg.OnBatch
	return s, nil
}

// openDBs opens the write and read pools (the same pool on MySQL; on
// SQLite one writer connection, since SQLite has one writer anyway, and a
// few WAL readers that never wait for it).
func openDBs(cfg Config) (w, r *sql.DB, d *dialect, err error) {
	switch strings.ToLower(cfg.Driver) {
	case "mysql":
		if cfg.DSN == "" {
			return nil, nil, nil, fmt.Errorf("store: mysql needs a DSN")
		}
		mc, err := mysql.ParseDSN(cfg.DSN)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		// UPDATEs that change nothing must still count their matched rows
		// (as SQLite does), or "not found" checks would misfire.
		mc.ClientFoundRows = true
		// One round trip per statement instead of prepare+execute+close.
		mc.InterpolateParams = true
		db, err := sql.Open("mysql", mc.FormatDSN())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("store: open mysql: %w", err)
		}
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 16
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		// Below MariaDB's wait_timeout, so idle connections are not found dead.
		db.SetConnMaxLifetime(30 * time.Minute)
		return db, db, mysqlDialect, nil
	case "", "sqlite":
		dsn, path, err := sqliteDSN(cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
		if err != nil {
			return nil, nil, nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 4
		}
		// The readers see the search indexes too (ftsindex.go).
		return w, openSearchAttached(dsn+"&_txlock=deferred", searchIndexPath(path), n, readerCacheKiB, readerCacheKiB), sqliteDialect, nil
	default:
		return nil, nil, nil, fmt.Errorf("store: unknown driver %q (want sqlite or mysql)", cfg.Driver)
	}
}

// readerCacheKiB is the page cache of each SQLite reader connection, per
// database file, and of the indexer's connection for chatd.db (which it
// only reads, newest rows first). SQLite's default, 2,000 KiB, held the
// same hot pages (users, sessions, memberships) once per connection: with
// 19,000 accounts logged in, chatd's RSS outside the Go runtime's memory
// was 36.1 MB, and 21.9 MB with every cache at 256 KiB. The file's pages
// stay in the kernel's cache, so a page a small cache lost is read back
// without I/O.
const readerCacheKiB = 512

// sqliteDSN returns the DSN of the SQLite database cfg names, but its
// transaction mode, and the database file's path.
func sqliteDSN(cfg Config) (dsn, path string, err error) {
	path = cfg.DSN
	if path == "" {
		if cfg.DataDir == "" {
			return "", "", fmt.Errorf("store: sqlite needs DataDir or DSN")
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return "", "", fmt.Errorf("store: create data dir: %w", err)
		}
		path = filepath.Join(cfg.DataDir, "chatd.db")
	}
	sync := strings.ToUpper(cfg.SQLiteSynchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "NORMAL" && sync != "FULL" {
		return "", "", fmt.Errorf("store: SQLiteSynchronous %q: want NORMAL or FULL", cfg.SQLiteSynchronous)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "foreign_keys(1)")
	return "file:" + path + "?" + q.Encode(), path, nil
}

func closeDBs(w, r *sql.DB) error {
	err := w.Close()
	if r != w {
		if rerr := r.Close(); err == nil {
			err = rerr
		}
	}
	return err
}
