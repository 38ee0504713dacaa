package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A backup taken while the store is open and written to (as chatd serves)
// restores into a database that holds what was committed before it.
func TestBackupWhileOpenThenRestore(t *testing.T) {
	ctx := context.Background()
	cfg := sqliteConfig(t)
	st, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateUser(ctx, "before_backup", "b", "hash", 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "chatd-backup.db")
	v, err := Backup(ctx, cfg, out)
	if err != nil || v != latestVersion() {
		t.Fatalf("backup: version %d, %v", v, err)
	}
	if _, err := Backup(ctx, cfg, out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if _, err := st.CreateUser(ctx, "after_backup", "a", "hash", 2); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Garbage is refused and leaves the database as it was.
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database at all, not even close"), 0o600)
	if _, _, err := Restore(ctx, cfg, junk); err == nil {
		t.Fatal("restored a file that is no database")
	}

	v, kept, err := Restore(ctx, cfg, out)
	if err != nil || v != latestVersion() {
		t.Fatalf("restore: version %d, %v", v, err)
	}
	if !strings.HasPrefix(kept, filepath.Join(cfg.DataDir, "chatd.db.before-restore-")) {
		t.Fatalf("replaced database kept as %q", kept)
	}
	st, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UserByName(ctx, "before_backup"); err != nil {
		t.Errorf("user from before the backup: %v", err)
	}
	if _, err := st.UserByName(ctx, "after_backup"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user from after the backup: %v, want not found", err)
	}
	// The database moved aside still has both.
	old, err := Open(ctx, Config{Driver: "sqlite", DSN: kept})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.UserByName(ctx, "after_backup"); err != nil {
		t.Errorf("kept database lost the later user: %v", err)
	}
}

func TestBackupOfMySQLPointsToItsTools(t *testing.T) {
	cfg := Config{Driver: "mysql", DSN: "u:p@tcp(127.0.0.1:1)/x"}
	if _, err := Backup(context.Background(), cfg, filepath.Join(t.TempDir(), "b")); !errors.Is(err, ErrBackupUnsupported) || !strings.Contains(err.Error(), "mariadb-dump") {
		t.Fatalf("backup of mysql: %v", err)
	}
	if _, _, err := Restore(context.Background(), cfg, "x"); !errors.Is(err, ErrBackupUnsupported) {
		t.Fatalf("restore to mysql: %v", err)
	}
}
