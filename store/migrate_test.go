package store

import (
	"context"
	"errors"
	"testing"

	"github.com/chatd/chatd/protocol"
)

func TestMigrateSQLite(t *testing.T) { testMigrate(t, sqliteConfig(t)) }

func TestMigrateMySQL(t *testing.T) { testMigrate(t, mysqlConfig(t)) }

// v2Data is a database as chatd wrote it at schema v2 (protocol 1.0):
// three users, a friendship with two messages, a group with a file.
var v2Data = []string{
	`INSERT INTO users (id, username, username_key, nickname, nick_key, signature, avatar, avatar_sha256, password_hash, created_at) VALUES
		(1, 'Old_A', 'old_a', 'Oldie', 'oldie', 'sig', X'89504E47', 'ab', 'hash-a', 1),
		(2, 'old_b', 'old_b', 'B', 'b', '', NULL, '', 'hash-b', 1),
		(3, 'old_c', 'old_c', 'C', 'c', '', NULL, '', 'hash-c', 1)`,
	`INSERT INTO sessions (token_hash, user_id, device, created_at, expires_at) VALUES (X'01', 1, 'pc', 1, 9000000000000)`,
	`INSERT INTO friends (user_id, friend_id, created_at) VALUES (1, 2, 2), (2, 1, 2)`,
	`INSERT INTO chat_groups (id, name, owner_id, created_at) VALUES (1, 'club', 1, 3)`,
	`INSERT INTO conversations (id, last_seq, last_ts) VALUES ('p:1:2', 2, 5), ('g:1', 1, 6)`,
	`INSERT INTO conv_members (user_id, conv, ack_seq, read_seq, joined_at) VALUES
		(1, 'p:1:2', 2, 2, 2), (2, 'p:1:2', 1, 1, 2), (1, 'g:1', 1, 1, 3), (2, 'g:1', 0, 0, 3), (3, 'g:1', 0, 0, 3)`,
	`INSERT INTO messages (id, conv, seq, from_id, ts, type, body, client_msg_id) VALUES
		(1, 'p:1:2', 1, 1, 4, 'text', 'Hello from v2', 'c1'),
		(2, 'p:1:2', 2, 2, 5, 'text', '回复：你好世界', NULL),
		(3, 'g:1', 1, 1, 6, 'file', '7', NULL)`,
	`UPDATE id_counters SET next_id = 4 WHERE name = 'msg'`,
	`INSERT INTO files (id, owner_id, conv, name, size, sha256, created_at, completed_at) VALUES (7, 1, 'g:1', 'a.txt', 3, 'cd', 6, 6)`,
}

func testMigrate(t *testing.T, cfg Config) {
	ctx := context.Background()
	w, r, d, err := openDBs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := migrateTo(ctx, w, d, 2); err != nil || v != 2 {
		t.Fatalf("create v2 schema: %d, %v", v, err)
	}
	for _, q := range v2Data {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", firstLine(q), err)
		}
	}
	closeDBs(w, r)

	// Migrate alone upgrades it in place, and is idempotent.
	for i := 0; i < 2; i++ {
		v, err := Migrate(ctx, cfg)
		if err != nil || v != latestVersion() || v < 3 {
			t.Fatalf("migrate: version %d, %v", v, err)
		}
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p12, _ := protocol.NewPrivateConv(1, 2)
	g1, _ := protocol.NewGroupConv(1)
	got, err := s.Messages(ctx, "p:1:2", 0, 10)
	if err != nil || len(got) != 2 || got[0].Body != "Hello from v2" || got[0].ClientMsgID != "c1" ||
		got[1].Mentions != nil || got[1].MentionAll || got[1].ReplyTo != 0 {
		t.Fatalf("v2 messages after upgrade: %+v, %v", got, err)
	}
	u, err := s.UserByName(ctx, "OLD_A")
	if err != nil || u.ID != 1 || u.DeletedAt != 0 || u.PasswordHash != "hash-a" {
		t.Fatalf("v2 user after upgrade: %+v, %v", u, err)
	}
	// The v2 nickname index serves search.
	if us, err := s.SearchUsers(ctx, "oldi", 10); err != nil || len(us) != 1 || us[0].ID != 1 {
		t.Fatalf("search after upgrade: %+v, %v", us, err)
	}
	if n, err := s.RevokeDevice(ctx, 1, "pc", 10); err != nil || n != 1 {
		t.Fatalf("revoke the v2 session: %d, %v", n, err)
	}
	// Existing groups: no notice, the owner is owner, the rest members.
	if g, err := s.Group(ctx, 1); err != nil || g.Notice != "" || g.Owner != 1 || g.MemberCount != 3 {
		t.Fatalf("v2 group after upgrade: %+v, %v", g, err)
	}
	ms, err := s.GroupMemberList(ctx, 1)
	if err != nil || len(ms) != 3 || ms[0].Role != RoleOwner || ms[1].Role != RoleMember || ms[2].Role != RoleMember || ms[2].MutedUntil != 0 {
		t.Fatalf("v2 members after upgrade: %+v, %v", ms, err)
	}
	// Old text messages are in the search index, Latin and Chinese, long
	// and short queries.
	for _, q := range []string{"hello FROM", "你好世界", "你好", "v2"} {
		found, _, err := s.SearchMessages(ctx, SearchQuery{User: 2, Query: q})
		if err != nil || len(found) != 1 || found[0].Conv != "p:1:2" {
			t.Fatalf("search %q after upgrade: %+v, %v", q, found, err)
		}
	}
	// Appends continue the v2 sequence and ids; a recall of the v2 file
	// message marks its file.
	m, _, err := s.AppendMessage(ctx, NewMessage{Conv: p12.String(), From: 2, Type: "text", Body: "v3", ReplyTo: 1, TS: 7})
	if err != nil || m.Seq != 3 || m.ID < 4 {
		t.Fatalf("append after upgrade: %+v, %v", m, err)
	}
	if rc, err := s.RecallMessage(ctx, g1, 1, 1, 8); err != nil || rc.Seq != 2 {
		t.Fatalf("recall after upgrade: %+v, %v", rc, err)
	}
	if f, err := s.File(ctx, 7); err != nil || !f.Recalled || f.Node != "" {
		t.Fatalf("file of a recalled v2 message: %+v, %v", f, err)
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
