package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// The SQLite pools run with the durability and locking settings doc.go
// promises: WAL, the configured synchronous level, a busy timeout, and
// foreign keys on.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		sync string
		want int
	}{{"", 2}, {"normal", 1}, {"FULL", 2}} {
		cfg := sqliteConfig(t)
		cfg.SQLiteSynchronous = tc.sync
		s, err := open(ctx, cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
			var mode string
			var syncLevel, fk, busy int
			if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncLevel)
			db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
			db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
			if mode != "wal" || syncLevel != tc.want || fk != 1 || busy != 10000 {
				t.Errorf("sync %q %s: journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d", tc.sync, name, mode, syncLevel, fk, busy)
			}
		}
		if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: "p:1:2", From: 1, Type: "text", Body: "x", TS: 1}); !errors.Is(err, ErrNotFound) {
			t.Errorf("append to a missing conversation: %v, want ErrNotFound", err)
		}
		s.Close()
	}
}
