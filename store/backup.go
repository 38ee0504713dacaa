package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrBackupUnsupported: Backup and Restore handle the embedded SQLite
// store only; a MySQL/MariaDB database is backed up with its own tools.
var ErrBackupUnsupported = errors.New("store: backup and restore cover the embedded SQLite store only; for MySQL/MariaDB use mariadb-dump --single-transaction (or mariabackup for large databases) and restore with the mariadb client")

// sqlitePath returns the SQLite database file cfg names, or
// ErrBackupUnsupported for another driver.
func sqlitePath(cfg Config) (string, error) {
	switch strings.ToLower(cfg.Driver) {
	case "", "sqlite":
	default:
		return "", ErrBackupUnsupported
	}
	if cfg.DSN != "" {
		return cfg.DSN, nil
	}
	if cfg.DataDir == "" {
		return "", fmt.Errorf("store: sqlite needs DataDir or DSN")
	}
	return filepath.Join(cfg.DataDir, "chatd.db"), nil
}

// Backup writes a consistent copy of the SQLite database cfg names to out,
// which must not exist yet. It may run while chatd serves from the same
// database: VACUUM INTO reads one snapshot (a WAL reader, never blocking
// the writer) and writes a compact database file with no WAL to go with
// it. It returns the schema version of the copy.
func Backup(ctx context.Context, cfg Config, out string) (int, error) {
	path, err := sqlitePath(cfg)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("store: backup: no database at %s: %w", path, err)
	}
	if _, err := os.Lstat(out); err == nil {
		return 0, fmt.Errorf("store: backup: %s already exists; choose a new file", out)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("store: backup: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		os.Remove(out)
		return 0, fmt.Errorf("store: backup %s to %s: %w", path, out, err)
	}
	return checkSQLiteCopy(ctx, out)
}

// checkSQLiteCopy opens the database file at path read-only, checks its
// integrity and that this build can read it, and returns its schema
// version.
func checkSQLiteCopy(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return 0, fmt.Errorf("store: %s is not an SQLite database: %w", path, err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("store: %s fails its integrity check: %s", path, check)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: %s is not a chatd database (no schema version): %w", path, err)
	}
	if v > latestVersion() {
		return v, fmt.Errorf("store: %s has schema version %d, this chatd knows up to %d: %w", path, v, latestVersion(), ErrSchemaTooNew)
	}
	return v, nil
}

// Restore replaces the SQLite database cfg names with the backup at from,
// after checking the backup (integrity, a chatd schema this build can
// read). The database it replaces, with its WAL, is kept beside it as
// chatd.db.before-restore-<time> (returned as kept, "" when there was
// none). The caller makes sure no chatd uses the database meanwhile (chatd
// restore holds the data directory's lock). An older schema is migrated by
// the next Open. It returns the schema version of the backup.
func Restore(ctx context.Context, cfg Config, from string) (version int, kept string, err error) {
	path, err := sqlitePath(cfg)
	if err != nil {
		return 0, "", err
	}
	if version, err = checkSQLiteCopy(ctx, from); err != nil {
		return version, "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return version, "", fmt.Errorf("store: restore: %w", err)
	}
	// Copy first, under a temporary name in the same directory, so a
	// failure leaves the current database untouched.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".restore-*")
	if err != nil {
		return version, "", fmt.Errorf("store: restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := copyFile(tmp, from); err != nil {
		return version, "", fmt.Errorf("store: restore: copy %s: %w", from, err)
	}
	if _, err := os.Stat(path); err == nil {
		kept = path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, kept); err != nil {
			return version, "", fmt.Errorf("store: restore: keep the current database: %w", err)
		}
		// The WAL belongs to the database moved aside; left in place it
		// would be replayed into the restored one. So does the search
		// index file (ftsindex.go): the restored database's is built
		// from its messages when it is opened.
		for _, suffix := range []string{"-wal", "-shm", "-search", "-search-wal", "-search-shm"} {
			if err := os.Rename(path+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return version, kept, fmt.Errorf("store: restore: keep %s: %w", path+suffix, err)
			}
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return version, kept, fmt.Errorf("store: restore: %w", err)
	}
	return version, kept, nil
}

// copyFile copies the file at from into dst, syncs and closes dst.
func copyFile(dst *os.File, from string) error {
	src, err := os.Open(from)
	if err != nil {
		dst.Close()
		return err
	}
	defer src.Close()
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	return errors.Join(err, dst.Close())
}
