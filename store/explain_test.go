package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// TestExplainSQLite and TestExplainMySQL check that every login and
// message-path query is answered from an index, not a scan of a table.
func TestExplainSQLite(t *testing.T) { testExplain(t, sqliteConfig(t)) }

func TestExplainMySQL(t *testing.T) { testExplain(t, mysqlConfig(t)) }

// populate fills the tables enough that a planner prefers a scan where no
// usable index exists.
func populate(t *testing.T, s *sqlStore) {
	t.Helper()
	ctx := context.Background()
	bulk := func(table, cols string, n int, row func(i int) []any) {
		t.Helper()
		for start := 0; start < n; start += 200 {
			k := min(200, n-start)
			var args []any
			for i := start; i < start+k; i++ {
				args = append(args, row(i)...)
			}
			ph := "(" + placeholders(len(args)/k) + "),"
			q := "INSERT INTO " + table + " (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(ph, k), ",")
			if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("populate %s: %v", table, err)
			}
		}
	}
	// MySQL's planner prefers scans on small tables, so it gets more rows;
	// SQLite (20x slower under -race) plans from ANALYZE statistics.
	users := 2000
	if s.d == sqliteDialect {
		users = 300
	}
	bulk("users", "id, username, username_key, nickname, nick_key, password_hash, created_at", users, func(i int) []any {
		n := fmt.Sprintf("user%d", i+1)
		return []any{i + 1, n, n, "nick" + n, "nick" + n, "h", 1}
	})
	bulk("friends", "user_id, friend_id, created_at", 4*users, func(i int) []any { return []any{i%users + 1, (i/users+i)%users + 1 + 0*i, 1} })
	bulk("friend_requests", "from_id, to_id, note, status, created_at", users, func(i int) []any { return []any{i + 1, (i+7)%users + 1, "", i % 3, 1} })
	bulk("chat_groups", "id, name, owner_id, created_at", users/2, func(i int) []any { return []any{i + 1, "g", i + 1, 1} })
	bulk("conversations", "id, last_seq, last_ts", users, func(i int) []any { return []any{protocol.PrivateConv(int64(i+1), int64(i+2)), 5, 1} })
	bulk("conversations", "id, last_seq, last_ts", users/2, func(i int) []any { return []any{protocol.GroupConv(int64(i + 1)), 5, 1} })
	bulk("conv_members", "user_id, conv", users, func(i int) []any { return []any{i + 1, protocol.PrivateConv(int64(i+1), int64(i+2))} })
	bulk("conv_members", "user_id, conv", users, func(i int) []any { return []any{i + 2, protocol.PrivateConv(int64(i+1), int64(i+2))} })
	bulk("conv_members", "user_id, conv", users, func(i int) []any { return []any{i + 1, protocol.GroupConv(int64(i%(users/2) + 1))} })
	bulk("messages", "id, conv, seq, from_id, ts, type, body, client_msg_id", 5*users, func(i int) []any {
		u := i/5 + 1
		return []any{i + 1, protocol.PrivateConv(int64(u), int64(u+1)), i%5 + 1, u, 1, "text", "hello", fmt.Sprintf("c%d", i)}
	})
	bulk("message_mentions", "conv, user_id, seq, from_id", 2*users, func(i int) []any {
		return []any{protocol.GroupConv(int64(i%(users/2) + 1)), i%users + 1, i/users + 1, 1}
	})
	if s.d == mysqlDialect {
		_, err := s.w.ExecContext(ctx, "ANALYZE TABLE users, friends, friend_requests, chat_groups, conversations, conv_members, messages, sessions, message_mentions")
		if err != nil {
			t.Fatal(err)
		}
	} else if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

func testExplain(t *testing.T, cfg Config) {
	ctx := context.Background()
	s, err := open(ctx, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	populate(t, s)
	nameCond, nameArgs := s.d.prefixCond("username_key", "user1")
	nickCond, nickArgs := s.d.prefixCond("nick_key", "nickuser1")
	cases := []struct {
		name string
		q    string
		args []any
	}{
		{"user by name", qUserByName, []any{"user5"}},
		{"session", qSession, []any{[]byte("0123456789abcdef0123456789abcdef")}},
		{"session with user", qSessionUser, []any{[]byte("0123456789abcdef0123456789abcdef"), "user5"}},
		{"friends with profiles", qFriends, []any{5, 500}},
		{"are friends", qAreFriends, []any{5, 6}},
		{"pending incoming", qPendingIn, []any{5, 100}},
		{"pending outgoing", qPendingOut, []any{5, 100}},
		{"friend notices", qFriendNotices, []any{5, 100, 5, 100}},
		{"groups of user", qUserGroupConv, []any{5, 500}},
		{"groups by ids", fmt.Sprintf(qGroupsByIDs, "?,?"), []any{5, 6}},
		{"group", qGroup, []any{5}},
		{"conversation members", qConvMembers, []any{"g:5"}},
		{"is member", qIsConvMember, []any{5, "g:5"}},
		{"conversations", qConversations, []any{5, 5, 1000}},
		{"missed messages", qMessagesAfter, []any{"p:5:6", 2, 500}},
		{"message by id", qMessageByID, []any{77}},
		{"ack", fmt.Sprintf(qMoveCursor, "ack_seq", s.d.min), []any{3, "p:5:6", 5, "p:5:6", 3, "p:5:6"}},
		{"lock conversations", fmt.Sprintf(qLockConvs, "?,?") + s.d.forUpdate, []any{"p:5:6", "g:5"}},
		{"idempotency keys", fmt.Sprintf(qIdemKeys, "?,?"), []any{"c5", "c6"}},
		{"search username", fmt.Sprintf(qSearch, nameCond, "username_key"), append(nameArgs, 50)},
		{"search nickname", fmt.Sprintf(qSearch, nickCond, "nick_key"), append(nickArgs, 50)},
		{"group members with roles", qMembers + ` ORDER BY cm.user_id`, []any{"g:5", 5}},
		{"group member", qMembers + ` AND cm.user_id = ?`, []any{"g:5", 5, 5}},
		{"search in one conversation", fmt.Sprintf(qSearchScan, "?", "m.body <> ?"), []any{"g:5", 1 << 40, "x", 21}},
	}
	if s.d == mysqlDialect {
		cases = append(cases, struct {
			name string
			q    string
			args []any
		}{"sender cursors", cursorUpdate(2), []any{5, "p:5:6", 0, 1, 6, "g:5", 0, 1}})
	}
	if s.d == sqliteDialect {
		cases = append(cases, []struct {
			name string
			q    string
			args []any
		}{
			{"search above the index mark", fmt.Sprintf(qSearchTail, "SELECT conv FROM conv_members WHERE user_id = ?", "instr(m.body, ?) > 0"), []any{100, 200, 5, "x", 21}},
			{"index a range for search", qIndexTrgm, []any{100, 200}},
			{"lock conversation (one row)", qLockConv, []any{"p:5:6"}},
			{"idempotency key (one row)", qFindKey, []any{"c5", 5}},
			{"advance conversation (one row)", qAdvanceConv, []any{6, 1, "p:5:6"}},
			{"advance cursor (one row)", qAdvanceCursor, []any{6, 5, "p:5:6", 5}},
			{"search (trigram index)", fmt.Sprintf(qSearchIndexed, "messages_trgm", qUserConvs, ""), []any{5, `"hello"`, -1 << 40, 21}},
			{"search one conversation (trigram index)", fmt.Sprintf(qSearchIndexed, "messages_trgm", "", " AND m.conv = ?"), []any{`"hello"`, -1 << 40, "p:5:6", 21}},
			{"search short (short grams index)", fmt.Sprintf(qSearchIndexed, "messages_trgm_short", qUserConvs, " AND instr(m.body, ?) > 0"), []any{5, `"hee"`, -1 << 40, "he", 21}},
		}...)
	}
	// Every token login runs these: on SQLite a temporary B-tree (a sort
	// or grouping the index order does not give) costs more than the rest
	// of such a small query.
	loginPath := map[string]bool{"user by name": true, "session with user": true, "friends with profiles": true,
		"friend notices": true, "groups of user": true, "groups by ids": true,
		"conversations": true, "missed messages": true}
	for _, c := range cases {
		plan, scans := explain(t, s, c.q, c.args)
		if len(scans) > 0 {
			t.Errorf("%s: full scan %v\nquery: %s\nplan:\n%s", c.name, scans, c.q, plan)
		} else if s.d == sqliteDialect && loginPath[c.name] && strings.Contains(plan, "USE TEMP B-TREE") {
			t.Errorf("%s: a login query sorts or groups in a temporary B-tree\nquery: %s\nplan:\n%s", c.name, c.q, plan)
		} else {
			t.Logf("%s:\n%s", c.name, plan)
		}
	}
}

// explain returns the plan as text and the parts of it that scan a whole
// table or index.
func explain(t *testing.T, s *sqlStore, q string, args []any) (string, []string) {
	t.Helper()
	ctx := context.Background()
	prefix := "EXPLAIN QUERY PLAN "
	if s.d == mysqlDialect {
		prefix = "EXPLAIN "
	}
	rows, err := s.r.QueryContext(ctx, prefix+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan strings.Builder
	var scans []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		get := func(name string) string {
			for i, c := range cols {
				if strings.EqualFold(c, name) {
					return vals[i].String
				}
			}
			return ""
		}
		var line []string
		for i, c := range cols {
			line = append(line, c+"="+vals[i].String)
		}
		plan.WriteString("  " + strings.Join(line, " ") + "\n")
		if s.d == mysqlDialect {
			// A derived table of the statement's own parameters is read
			// whole by design; tables must not be.
			if typ := get("type"); (typ == "ALL" || typ == "index") && !strings.HasPrefix(get("table"), "<derived") {
				scans = append(scans, get("table")+" type="+typ)
			}
		} else if d := get("detail"); strings.HasPrefix(d, "SCAN ") && !strings.Contains(d, "VIRTUAL TABLE INDEX") {
			// (A virtual table "scan" with an index is FTS5 answering MATCH.)
			scans = append(scans, d)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Reading a subquery's own result (a co-routine or a materialized
	// view, itself planned above) is not a scan of a table.
	kept := scans[:0]
	for _, sc := range scans {
		name := strings.TrimPrefix(sc, "SCAN ")
		if !strings.Contains(plan.String(), "CO-ROUTINE "+name+"\n") && !strings.Contains(plan.String(), "MATERIALIZE "+name+"\n") {
			kept = append(kept, sc)
		}
	}
	return plan.String(), kept
}
