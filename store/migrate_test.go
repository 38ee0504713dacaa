package store

import (
	"context"
	"errors"
	"testing"

	"github.com/chatd/chatd/protocol"
)

func TestMigrateSQLite(t *testing.T) { testMigrate(t, sqliteConfig(t)) }

func TestMigrateMySQL(t *testing.T) { testMigrate(t, mysqlConfig(t)) }

func testMigrate(t *testing.T, cfg Config) {
	ctx := context.Background()
	// A database written by the v1 schema, with data in it.
	old, err := open(ctx, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := schemaVersion(ctx, old.w); err != nil || v != 1 {
		t.Fatalf("v1 database reports version %d, %v", v, err)
	}
	a, err := old.CreateUser(ctx, "old_a", "Oldie", "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := old.CreateUser(ctx, "old_b", "B", "h", 1)
	fr, _ := old.CreateFriendRequest(ctx, a.ID, b.ID, "", 2)
	if _, err := old.RespondFriendRequest(ctx, fr.ID, true, 3); err != nil {
		t.Fatal(err)
	}
	conv := protocol.PrivateConv(a.ID, b.ID)
	m, _, err := old.AppendMessage(ctx, NewMessage{Conv: conv, From: a.ID, Type: "text", Body: "from v1", ClientMsgID: "v1", TS: 4})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()

	// Migrate alone upgrades it in place, and is idempotent.
	for i := 0; i < 2; i++ {
		v, err := Migrate(ctx, cfg)
		if err != nil || v != latestVersion() || v < 2 {
			t.Fatalf("migrate: version %d, %v", v, err)
		}
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Messages(ctx, conv, 0, 10)
	if err != nil || len(got) != 1 || got[0] != m {
		t.Fatalf("v1 message after upgrade: %+v, %v", got, err)
	}
	// The v2 nickname index serves search.
	if us, err := s.SearchUsers(ctx, "oldi", 10); err != nil || len(us) != 1 || us[0].ID != a.ID {
		t.Fatalf("search after upgrade: %+v, %v", us, err)
	}
	// Appends continue the v1 sequence.
	m2, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: b.ID, Type: "text", Body: "v2", ClientMsgID: "v2", TS: 5})
	if err != nil || m2.Seq != 2 || m2.ID == m.ID {
		t.Fatalf("append after upgrade: %+v, %v", m2, err)
	}
	// A database from a newer chatd is refused, by Open and by Migrate.
	if _, err := s.(*sqlStore).w.ExecContext(ctx, `UPDATE schema_version SET version = ?`, latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, cfg); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open newer schema: %v, want ErrSchemaTooNew", err)
	}
	if _, err := Migrate(ctx, cfg); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("migrate newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{Driver: "postgres", DSN: "x"},
		{Driver: "mysql"},
		{Driver: "sqlite"},
		{Driver: "sqlite", DataDir: t.TempDir(), SQLiteSynchronous: "OFF"},
	} {
		if s, err := Open(ctx, cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}
