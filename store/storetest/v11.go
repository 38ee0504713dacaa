package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// The protocol 1.1 cases: recall, mentions and replies, search, group
// administration and account security.

func groupConv(t *testing.T, g store.Group) protocol.ConvID {
	t.Helper()
	c, err := protocol.NewGroupConv(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send appends a text message (no idempotency key) and returns it.
func send(t *testing.T, s store.Store, m store.NewMessage) store.Message {
	t.Helper()
	if m.Type == "" {
		m.Type = store.TypeText
	}
	if m.TS == 0 {
		m.TS = 5000
	}
	got, _ := must2m(t)(s.AppendMessage(context.Background(), m))
	return got
}

func testMentionsAndReplies(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "men", 3)
	a, b, c := us[0].ID, us[1].ID, us[2].ID
	g := must(s.CreateGroup(ctx, "m", a, []int64{b, c}, 1))(t)
	conv := protocol.GroupConv(g.ID)
	m1 := send(t, s, store.NewMessage{Conv: conv, From: a, Body: "hi @b @c", Mentions: []int64{b, c}})
	m2 := send(t, s, store.NewMessage{Conv: conv, From: b, Body: "re", ReplyTo: m1.Seq, Mentions: []int64{}})
	m3 := send(t, s, store.NewMessage{Conv: conv, From: c, Body: "all!", MentionAll: true})
	if !reflect.DeepEqual(m1.Mentions, []int64{b, c}) || m2.ReplyTo != 1 || m2.Mentions != nil || !m3.MentionAll {
		t.Fatalf("appended %+v %+v %+v", m1, m2, m3)
	}
	if got := must(s.Messages(ctx, conv, 0, 10))(t); !reflect.DeepEqual(got, []store.Message{m1, m2, m3}) {
		t.Fatalf("read back %+v", got)
	}
	// reply_to must be a seq of the conversation, here and now.
	for _, bad := range []int64{4, -1} {
		_, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "x", ReplyTo: bad, TS: 1})
		wantErr(t, err, store.ErrNotFound)
	}
	_, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "x", Mentions: make([]int64, store.MaxMentions+1), TS: 1})
	if err == nil {
		t.Fatal("too many mentions: no error")
	}
	mentionSeq := func(user int64) int64 {
		t.Helper()
		for _, ci := range must(s.Conversations(ctx, user, 0))(t) {
			if ci.Conv == conv {
				return ci.MentionSeq
			}
		}
		t.Fatalf("user %d not in %s", user, conv)
		return 0
	}
	// b: mentioned by m1, all by m3. c: mentioned by m1, m3 is its own.
	// a: only mention_all of m3.
	if ma, mb, mc := mentionSeq(a), mentionSeq(b), mentionSeq(c); ma != 3 || mb != 3 || mc != 1 {
		t.Fatalf("mention seqs a=%d b=%d c=%d, want 3 3 1", ma, mb, mc)
	}
	// Reading past a mention clears it.
	if err := s.MarkRead(ctx, c, conv, 1); err != nil {
		t.Fatal(err)
	}
	if mc := mentionSeq(c); mc != 0 {
		t.Fatalf("mention seq of c after reading it: %d", mc)
	}
	// A recalled mention no longer counts: b falls back to m1.
	must(s.RecallMessage(ctx, groupConv(t, g), m3.Seq, c, 6000))(t)
	if mb := mentionSeq(b); mb != 1 {
		t.Fatalf("mention seq of b after recall of the mention_all: %d, want 1", mb)
	}
	// The recalled message keeps its mentions and reply_to.
	m5 := send(t, s, store.NewMessage{Conv: conv, From: a, Body: "quoting", ReplyTo: 2, Mentions: []int64{b}})
	must(s.RecallMessage(ctx, groupConv(t, g), m5.Seq, a, 6001))(t)
	got := must(s.MessageAt(ctx, groupConv(t, g), m5.Seq))(t)
	if got.Type != store.TypeRecalled || got.Body != "" || got.ReplyTo != 2 || !reflect.DeepEqual(got.Mentions, []int64{b}) {
		t.Fatalf("recalled mention %+v", got)
	}
}

func testRecall(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "rec", 2)
	a, b := us[0].ID, us[1].ID
	g := must(s.CreateGroup(ctx, "r", a, []int64{b}, 1))(t)
	conv, cid := protocol.GroupConv(g.ID), groupConv(t, g)
	m1 := send(t, s, store.NewMessage{Conv: conv, From: b, Body: "oops", ClientMsgID: "k1"})
	rc := must(s.RecallMessage(ctx, cid, m1.Seq, a, 7000))(t)
	if rc.Seq != 2 || rc.Type != store.TypeRecall || rc.Body != "1" || rc.From != a || rc.ClientMsgID != "" || rc.TS != 7000 || rc.Conv != conv || rc.ID <= m1.ID {
		t.Fatalf("recall message %+v", rc)
	}
	// The original reads recalled everywhere: by seq, by id, in sync and
	// as the last message; the recall itself reads as stored.
	want := m1
	want.Type, want.Body = store.TypeRecalled, ""
	if got := must(s.MessageAt(ctx, cid, 1))(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("recalled by seq %+v, want %+v", got, want)
	}
	if got := must(s.Message(ctx, m1.ID))(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("recalled by id %+v", got)
	}
	if got := must(s.Messages(ctx, conv, 0, 10))(t); !reflect.DeepEqual(got, []store.Message{want, rc}) {
		t.Fatalf("sync after recall %+v", got)
	}
	// A retried send of the recalled message is still a duplicate.
	if again, dup := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: b, Type: "text", Body: "oops", ClientMsgID: "k1", TS: 1})); !dup || again.Seq != 1 {
		t.Fatalf("resend of a recalled message: %+v dup=%v", again, dup)
	}
	// A second recall reports the first; a recall cannot be recalled;
	// unknown seqs are not found.
	again, err := s.RecallMessage(ctx, cid, 1, b, 7001)
	wantErr(t, err, store.ErrAlreadyRecalled)
	if !reflect.DeepEqual(again, rc) {
		t.Fatalf("second recall reports %+v, want %+v", again, rc)
	}
	_, err = s.RecallMessage(ctx, cid, rc.Seq, a, 7002)
	wantErr(t, err, store.ErrNotRecallable)
	for _, seq := range []int64{0, 3, 99} {
		_, err = s.RecallMessage(ctx, cid, seq, a, 7003)
		wantErr(t, err, store.ErrNotFound)
	}
	_, err = s.MessageAt(ctx, cid, 3)
	wantErr(t, err, store.ErrNotFound)
	if cs := must(s.Conversations(ctx, b, 0))(t); len(cs) != 1 || cs[0].LastSeq != 2 || cs[0].Last == nil || cs[0].Last.Type != store.TypeRecall {
		t.Fatalf("conversations after recall %+v", cs)
	}

	// A recalled file message marks its file.
	f := must(s.CreateFile(ctx, store.FileMeta{Owner: b, Conv: conv, Name: "f", Size: 1, SHA256: "00", CreatedAt: 1, CompletedAt: 2}))(t)
	fm := send(t, s, store.NewMessage{Conv: conv, From: b, Type: store.TypeFile, Body: fmt.Sprint(f.ID)})
	if got := must(s.File(ctx, f.ID))(t); got.Recalled {
		t.Fatal("file recalled before its message was")
	}
	must(s.RecallMessage(ctx, cid, fm.Seq, b, 7004))(t)
	if got := must(s.File(ctx, f.ID))(t); !got.Recalled {
		t.Fatalf("file of a recalled message: %+v", got)
	}

	// Concurrent recalls of one message: one recall message, the others
	// report it; the sequence stays gapless.
	m := send(t, s, store.NewMessage{Conv: conv, From: b, Body: "race"})
	const n = 6
	var wg sync.WaitGroup
	res := make([]store.Message, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i], errs[i] = s.RecallMessage(ctx, cid, m.Seq, a, 8000)
		}(i)
	}
	wg.Wait()
	won := 0
	for i := range res {
		switch {
		case errs[i] == nil:
			won++
		case !errors.Is(errs[i], store.ErrAlreadyRecalled):
			t.Fatalf("concurrent recall: %v", errs[i])
		}
		if res[i].Seq != m.Seq+1 || res[i].Type != store.TypeRecall {
			t.Fatalf("concurrent recall %d reports %+v", i, res[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d recalls won, want 1", won)
	}
	checkSeqs(t, s, conv, m.Seq+1)
}

// checkSeqs checks that conv holds exactly seqs 1..last.
func checkSeqs(t *testing.T, s store.Store, conv string, last int64) {
	t.Helper()
	got := must(s.Messages(context.Background(), conv, 0, 0))(t)
	for i, m := range got {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d", m.Seq, i)
		}
	}
	if int64(len(got)) != last {
		t.Fatalf("%d messages, want %d", len(got), last)
	}
}

func testSearchMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "sea", 3)
	a, b, c := us[0].ID, us[1].ID, us[2].ID
	ab := MakeFriends(t, s, a, b)
	bc := MakeFriends(t, s, b, c) // a is not in it
	g := must(s.CreateGroup(ctx, "s", a, []int64{b}, 1))(t)
	gc := protocol.GroupConv(g.ID)
	texts := []struct {
		conv string
		from int64
		body string
	}{
		{ab, a, "Hello World"},                // 0
		{gc, b, "say HELLO to the group"},     // 1
		{bc, b, "hello from elsewhere"},       // 2: a not a member
		{ab, b, "我们明天去北京吃烤鸭"},                 // 3
		{gc, a, "北京见"},                        // 4
		{ab, a, "100% sure_thing \"quoted\""}, // 5
		{gc, b, "ÄRGER über Straße"},          // 6
		{ab, b, "hello again, recalled"},      // 7: recalled below
		{gc, a, "哈"},                          // 8
		{ab, b, "哈哈 AAH"},                     // 9
		{gc, b, "wxyz then xyzw"},             // 10: every trigram of "wxyzw", not it
	}
	var ms []store.Message
	for _, x := range texts {
		ms = append(ms, send(t, s, store.NewMessage{Conv: x.conv, From: x.from, Body: x.body}))
	}
	send(t, s, store.NewMessage{Conv: ab, From: a, Type: store.TypeFile, Body: "hello"}) // not text
	abID, err := protocol.ParseConv(ab)
	if err != nil {
		t.Fatal(err)
	}
	must(s.RecallMessage(ctx, abID, ms[7].Seq, b, 9000))(t)
	ids := func(found []store.Message) []int64 {
		out := []int64{}
		for _, m := range found {
			out = append(out, m.ID)
		}
		return out
	}
	want := func(idx ...int) []int64 {
		out := []int64{}
		for _, i := range idx {
			out = append(out, ms[i].ID)
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		conv string
		want []int64
	}{
		{"hello", "", want(1, 0)},
		{"HeLLo WORLD", "", want(0)},
		{"hello", ab, want(0)},
		{"北京", "", want(4, 3)},    // two characters
		{"北京吃烤鸭", "", want(3)},    // more: the index
		{"京", "", want(4, 3)},     // one
		{"烤鸭", gc, want()},        // not in that conversation
		{"%", "", want(5)},        // wildcards are literal
		{"e_x", "", want()},       // (not "e?x")
		{"sure_", "", want(5)},    //
		{`"quoted"`, "", want(5)}, // quotes too
		{"äRGER", "", want(6)},    // case folds beyond ASCII
		{"ä", "", want(6)},        //
		{"recalled", "", want()},  // recalled messages are gone
		{"elsewhere", "", want()}, // not a member
		{"zzz", "", want()},
		{"哈哈", "", want(9)},   // a repeated character
		{"哈", "", want(9, 8)}, //
		{"aA", "", want(9)},   // (repeated up to case)
		{"ah", "", want(9)},   //
		{"wxyzw", "", want()}, // its pieces are not enough
		{"xyz", "", want(10)},
		{"say hello to the group", "", want(1)}, // long: some trigrams looked up, all checked
		{"say hello to thX group", "", want()},  //
		{"我们明天去北京吃烤鸭", "", want(3)},             //
	} {
		q := store.SearchQuery{User: a, Query: tc.q}
		if tc.conv != "" {
			q.Conv, _ = protocol.ParseConv(tc.conv)
		}
		found, more, err := s.SearchMessages(ctx, q)
		if err != nil {
			t.Fatalf("search %q: %v", tc.q, err)
		}
		if got := ids(found); !reflect.DeepEqual(got, tc.want) || more {
			t.Errorf("search %q in %q: %v more=%v, want %v", tc.q, tc.conv, got, more, tc.want)
		}
	}
	// Results are whole messages.
	if found, _, _ := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: "world"}); len(found) != 1 || !reflect.DeepEqual(found[0], ms[0]) {
		t.Fatalf("found %+v, want %+v", found, ms[0])
	}
	// Paging by the last msg id neither repeats nor skips; more is exact.
	var extra []int64
	for i := 0; i < 5; i++ {
		extra = append(extra, send(t, s, store.NewMessage{Conv: gc, From: a, Body: fmt.Sprintf("page hello %d", i)}).ID)
	}
	all := append([]int64{extra[4], extra[3], extra[2], extra[1], extra[0]}, want(1, 0)...)
	var paged []int64
	before := int64(0)
	for page := 0; ; page++ {
		found, more, err := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: "hello", BeforeID: before, Limit: 3})
		if err != nil || len(found) == 0 || len(found) > 3 {
			t.Fatalf("page %d: %d messages, %v", page, len(found), err)
		}
		paged = append(paged, ids(found)...)
		before = found[len(found)-1].ID
		if wantMore := len(paged) < len(all); more != wantMore {
			t.Fatalf("page %d: more=%v after %v", page, more, paged)
		}
		if !more {
			break
		}
	}
	if !reflect.DeepEqual(paged, all) {
		t.Fatalf("paged %v, want %v", paged, all)
	}
	// The limit is capped; conversations are those the user is in now.
	var wg sync.WaitGroup // concurrent, so they share commits
	for i := 0; i < store.MaxSearchLimit; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: gc, From: b, Type: store.TypeText, Body: "many hello", TS: 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if found, more, _ := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: "hello", Limit: 1000}); len(found) != store.MaxSearchLimit || !more {
		t.Fatalf("limit 1000 gave %d, more=%v", len(found), more)
	}
	if found, _, _ := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: "hello"}); len(found) != store.DefaultSearchLimit {
		t.Fatalf("default limit gave %d", len(found))
	}
	if err := s.LeaveGroup(ctx, g.ID, a); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"hello", "京"} {
		found, _, _ := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: q})
		for _, m := range found {
			if m.Conv == gc {
				t.Fatalf("search %q after leaving finds %+v", q, m)
			}
		}
	}
}

// Queries an n-gram index answers differently from a substring match:
// one and two characters, letters, digits, symbols and CJK side by side,
// case beyond Latin, the index's own query syntax, blanks, and a recall
// in the same batch as the message it recalls.
func testSearchEdges(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "sed", 2)
	a, b := us[0].ID, us[1].ID
	ab := MakeFriends(t, s, a, b)
	bodies := []string{
		"МОСКВА и ΑΘΗΝΑ",           // 0
		"c++ rocks! a.b,c",         // 1
		"x",                        // 2
		"ab12cd 北京ok",              // 3
		`back\slash "q" OR -not *`, // 4
		"tab\there  two spaces",    // 5
		"😀 smile",                  // 6
		"ＦＵＬＬ width",               // 7
		"cafe\u0301 noir",          // 8: a combining accent
	}
	var ms []store.Message
	for _, body := range bodies {
		ms = append(ms, send(t, s, store.NewMessage{Conv: ab, From: a, Body: body}))
	}
	want := func(idx ...int) []int64 {
		out := []int64{}
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, ms[idx[i]].ID)
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"москва", want(0)}, // Cyrillic and Greek fold too
		{"Москва", want(0)},
		{"θην", want(0)},
		{"к", want(0)},
		{"c++", want(1)},
		{"+", want(1)},
		{"!", want(1)},
		{"s! a", want(1)},
		{"a.b", want(1)},
		{".", want(1)},
		{",c", want(1)},
		{"x", want(2)},
		{"X", want(2)},
		{"2c", want(3)},
		{"d 北", want(3)},
		{"北京o", want(3)},
		{"京", want(3)},
		{"b1", want(3)},
		{`\`, want(4)},
		{`k\s`, want(4)},
		{`"q"`, want(4)},
		{`"`, want(4)},
		{"or", want(4)},
		{"OR -not", want(4)},
		{"-", want(4)},
		{"*", want(4)},
		{"(", want()},
		{"b\th", want(5)},
		{"  two", want(5)},
		{" ", want(0, 1, 3, 4, 5, 6, 7, 8)},
		{"   ", want()},
		{"😀", want(6)},
		{"😀 s", want(6)},
		{"ｆｕｌｌ", want(7)},
		{"full", want()}, // widths are not folded
		{"ab", want(3, 5)},
		{"cafe", want(8)},
		{"CAFE\u0301", want(8)},
		{"\u0301", want(8)},
		{"\u0301 n", want(8)},
		{"a", want(1, 3, 4, 5, 8)}, // not Cyrillic А or Greek Α
	} {
		found, more, err := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: tc.q})
		if err != nil {
			t.Fatalf("search %q: %v", tc.q, err)
		}
		got := []int64{}
		for _, m := range found {
			got = append(got, m.ID)
		}
		if !reflect.DeepEqual(got, tc.want) || more {
			t.Errorf("search %q: %v more=%v, want %v", tc.q, got, more, tc.want)
		}
	}
	// A message and its recall committed together: never found.
	conv, _ := protocol.ParseConv(ab)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: ab, From: b, Type: store.TypeText, Body: "quickly taken back", TS: 1})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.RecallMessage(ctx, conv, m.Seq, b, 2); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if found, _, err := s.SearchMessages(ctx, store.SearchQuery{User: a, Query: "taken"}); err != nil || len(found) != 0 {
		t.Fatalf("recalled messages found: %v %v", found, err)
	}
}

func testGroupAdmin(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "adm", 4)
	o, m1, m2, x := us[0].ID, us[1].ID, us[2].ID, us[3].ID
	g := must(s.CreateGroup(ctx, "team", o, []int64{m1, m2}, 100))(t)
	if g.Notice != "" {
		t.Fatalf("new group's notice %q", g.Notice)
	}
	name, notice := "renamed", "read the rules ✓"
	got := must(s.UpdateGroup(ctx, g.ID, store.GroupUpdate{Notice: &notice}))(t)
	if got.Notice != notice || got.Name != "team" || got.MemberCount != 3 || got.Owner != o {
		t.Fatalf("notice set %+v", got)
	}
	got = must(s.UpdateGroup(ctx, g.ID, store.GroupUpdate{Name: &name}))(t)
	if got.Notice != notice || got.Name != name {
		t.Fatalf("renamed %+v", got)
	}
	if gs := must(s.GroupsOfUser(ctx, m1, 10))(t); len(gs) != 1 || gs[0].Notice != notice || gs[0].Name != name {
		t.Fatalf("groups of member %+v", gs)
	}
	_, err := s.UpdateGroup(ctx, g.ID+100, store.GroupUpdate{Name: &name})
	wantErr(t, err, store.ErrNotFound)

	member := func(u int64) store.Member {
		t.Helper()
		return must(s.GroupMember(ctx, g.ID, u))(t)
	}
	if r := member(o).Role; r != store.RoleOwner {
		t.Fatalf("owner's role %q", r)
	}
	if m := member(m1); m.Role != store.RoleMember || m.MutedUntil != 0 || m.JoinedAt != 100 {
		t.Fatalf("member %+v", m)
	}
	if err := s.SetMemberRole(ctx, g.ID, m1, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.SetMemberRole(ctx, g.ID, o, store.RoleMember), store.ErrIsOwner)
	wantErr(t, s.SetMemberRole(ctx, g.ID, x, store.RoleAdmin), store.ErrNotFound)
	wantErr(t, s.SetMemberRole(ctx, g.ID+100, m1, store.RoleAdmin), store.ErrNotFound)
	if err := s.SetMemberRole(ctx, g.ID, m1, store.RoleOwner); err == nil {
		t.Fatal("set role owner: no error")
	}
	if err := s.MuteMember(ctx, g.ID, m2, 123456); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.MuteMember(ctx, g.ID, x, 1), store.ErrNotFound)
	list := must(s.GroupMemberList(ctx, g.ID))(t)
	wantList := []store.Member{
		{UserID: o, Role: store.RoleOwner, JoinedAt: 100},
		{UserID: m1, Role: store.RoleAdmin, JoinedAt: 100},
		{UserID: m2, Role: store.RoleMember, MutedUntil: 123456, JoinedAt: 100},
	}
	if !reflect.DeepEqual(list, wantList) {
		t.Fatalf("members %+v, want %+v", list, wantList)
	}
	if err := s.MuteMember(ctx, g.ID, m2, 0); err != nil {
		t.Fatal(err)
	}
	if m := member(m2); m.MutedUntil != 0 {
		t.Fatalf("mute lifted %+v", m)
	}
	_, err = s.GroupMember(ctx, g.ID, x)
	wantErr(t, err, store.ErrNotFound)

	// Transfer: only from the owner, only to a member.
	wantErr(t, s.TransferGroup(ctx, g.ID, m1, m2), store.ErrNotOwner)
	wantErr(t, s.TransferGroup(ctx, g.ID, o, x), store.ErrNotFound)
	wantErr(t, s.TransferGroup(ctx, g.ID, o, o), store.ErrIsOwner)
	wantErr(t, s.TransferGroup(ctx, g.ID+100, o, m1), store.ErrNotFound)
	if err := s.TransferGroup(ctx, g.ID, o, m2); err != nil {
		t.Fatal(err)
	}
	if gr := must(s.Group(ctx, g.ID))(t); gr.Owner != m2 {
		t.Fatalf("owner after transfer %+v", gr)
	}
	if ro, r2 := member(o).Role, member(m2).Role; ro != store.RoleAdmin || r2 != store.RoleOwner {
		t.Fatalf("after transfer: old owner %q, new owner %q", ro, r2)
	}
	// Leaving drops role and mute: a rejoin starts plain.
	if err := s.MuteMember(ctx, g.ID, m1, 99); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveGroup(ctx, g.ID, m1); err != nil {
		t.Fatal(err)
	}
	must(s.JoinGroup(ctx, g.ID, m1, 200))(t)
	if m := member(m1); m.Role != store.RoleMember || m.MutedUntil != 0 || m.JoinedAt != 200 {
		t.Fatalf("rejoined %+v", m)
	}
	if err := s.DismissGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GroupMemberList(ctx, g.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GroupMember(ctx, g.ID, m1)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.MuteMember(ctx, g.ID, m1, 1), store.ErrNotFound)
}

func testAccountSecurity(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "sec", 2)
	u, other := us[0].ID, us[1].ID
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	for _, x := range []struct {
		tok, dev string
		user     int64
		exp      int64
	}{{"t1", "phone", u, 100}, {"t2", "phone", u, 100}, {"t3", "pc", u, 100}, {"t4", "tablet", u, 5}, {"o1", "phone", other, 100}} {
		if err := s.CreateSession(ctx, store.Session{TokenHash: hash(x.tok), UserID: x.user, Device: x.dev, CreatedAt: 1, ExpiresAt: x.exp}); err != nil {
			t.Fatal(err)
		}
	}
	// Revoke one device: its tokens only; expired ones do not count.
	if n := must(s.RevokeDevice(ctx, u, "phone", 10))(t); n != 2 {
		t.Fatalf("revoked %d phone tokens, want 2", n)
	}
	for _, tok := range []string{"t1", "t2"} {
		_, err := s.Session(ctx, hash(tok), 10)
		wantErr(t, err, store.ErrNotFound)
	}
	must(s.Session(ctx, hash("t3"), 10))(t)
	must(s.Session(ctx, hash("o1"), 10))(t)
	if n := must(s.RevokeDevice(ctx, u, "phone", 10))(t); n != 0 {
		t.Fatalf("revoked %d phone tokens twice", n)
	}
	if n := must(s.RevokeDevice(ctx, u, "tablet", 10))(t); n != 0 {
		t.Fatalf("an expired token counted: %d", n)
	}
	// A password change revokes every token and keeps the new one.
	if err := s.ChangePassword(ctx, u, "new-hash", store.Session{TokenHash: hash("t5"), UserID: u, Device: "pc", CreatedAt: 20, ExpiresAt: 200}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Session(ctx, hash("t3"), 10)
	wantErr(t, err, store.ErrNotFound)
	if ss := must(s.Session(ctx, hash("t5"), 30))(t); ss.UserID != u || ss.Device != "pc" {
		t.Fatalf("new session %+v", ss)
	}
	must(s.Session(ctx, hash("o1"), 10))(t)
	if got := must(s.UserByID(ctx, u))(t); got.PasswordHash != "new-hash" {
		t.Fatalf("hash after change %q", got.PasswordHash)
	}
	wantErr(t, s.ChangePassword(ctx, u+1000, "h", store.Session{TokenHash: hash("t6"), UserID: u + 1000, Device: "pc", CreatedAt: 1, ExpiresAt: 2}), store.ErrNotFound)
	// An administrator's reset (a zero keep) leaves no token at all.
	if err := s.ChangePassword(ctx, u, "reset-hash", store.Session{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, hash("t5"), 30)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Session(ctx, nil, 0)
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.UserByID(ctx, u))(t); got.PasswordHash != "reset-hash" {
		t.Fatalf("hash after reset %q", got.PasswordHash)
	}
}

func testDeleteAccount(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "del", 5)
	d, f1, f2, x, y := us[0].ID, us[1].ID, us[2].ID, us[3].ID, us[4].ID
	p1 := MakeFriends(t, s, d, f1)
	MakeFriends(t, s, f2, d)
	must(s.CreateFriendRequest(ctx, d, x, "pending out", 1))(t)
	must(s.CreateFriendRequest(ctx, y, d, "pending in", 1))(t)
	img := []byte("avatar")
	sig := "bye"
	must(s.UpdateProfile(ctx, d, store.ProfileUpdate{Signature: &sig, SetAvatar: true, Avatar: img}))(t)
	h := sha256.Sum256([]byte("tok"))
	if err := s.CreateSession(ctx, store.Session{TokenHash: h[:], UserID: d, Device: "pc", CreatedAt: 1, ExpiresAt: 1 << 50}); err != nil {
		t.Fatal(err)
	}
	owned := must(s.CreateGroup(ctx, "mine", d, []int64{f1, x}, 1))(t)
	joined := must(s.CreateGroup(ctx, "theirs", f1, []int64{d, f2}, 1))(t)
	sent := send(t, s, store.NewMessage{Conv: p1, From: d, Body: "last words"})

	del := must(s.DeleteAccount(ctx, d, 777))(t)
	wantDel := store.AccountDeletion{
		Friends:   []int64{f1, f2},
		Dismissed: []store.GroupMembers{{GroupID: owned.ID, Members: []int64{f1, x}}},
		Left:      []store.GroupMembers{{GroupID: joined.ID, Members: []int64{f1, f2}}},
	}
	if !reflect.DeepEqual(del, wantDel) {
		t.Fatalf("deletion %+v, want %+v", del, wantDel)
	}
	// It cannot log in; its name stays taken; its profile is blank.
	_, err := s.UserByName(ctx, "del0")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Session(ctx, h[:], 10)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.CreateUser(ctx, "DEL0", "again", "h", 1)
	wantErr(t, err, store.ErrUsernameTaken)
	u := must(s.UserByID(ctx, d))(t)
	if u.Nickname != store.DeletedNickname || u.Signature != "" || u.AvatarSHA256 != "" || u.DeletedAt != 777 || u.Username != "del0" {
		t.Fatalf("deleted profile %+v", u)
	}
	if a := must(s.Avatar(ctx, d))(t); a != nil {
		t.Fatalf("deleted avatar %q", a)
	}
	if r := must(s.SearchUsers(ctx, "del0", 10))(t); len(r) != 0 {
		t.Fatalf("search finds the deleted user: %+v", r)
	}
	if r := must(s.SearchUsers(ctx, "deleted", 10))(t); len(r) != 0 {
		t.Fatalf("search by the deleted nickname: %+v", r)
	}
	// Friendships, requests, groups and memberships are gone.
	for _, f := range []int64{f1, f2} {
		if ok := must(s.AreFriends(ctx, f, d))(t); ok {
			t.Fatalf("%d still friends with the deleted user", f)
		}
	}
	if in, out := must2(t)(s.PendingFriendRequests(ctx, x, 10)); len(in)+len(out) != 0 {
		t.Fatalf("requests of x: %+v %+v", in, out)
	}
	if in, out := must2(t)(s.PendingFriendRequests(ctx, y, 10)); len(in)+len(out) != 0 {
		t.Fatalf("requests of y: %+v %+v", in, out)
	}
	_, err = s.Group(ctx, owned.ID)
	wantErr(t, err, store.ErrNotFound)
	if m := must(s.GroupMembers(ctx, joined.ID))(t); !reflect.DeepEqual(m, []int64{f1, f2}) {
		t.Fatalf("members of the group it was in: %v", m)
	}
	if g := must(s.Group(ctx, joined.ID))(t); g.MemberCount != 2 {
		t.Fatalf("member count of the group it was in: %d, want 2", g.MemberCount)
	}
	if cs := must(s.Conversations(ctx, d, 0))(t); len(cs) != 0 {
		t.Fatalf("conversations of the deleted user: %+v", cs)
	}
	// Its messages stay.
	if got := must(s.Messages(ctx, p1, 0, 10))(t); len(got) != 1 || !reflect.DeepEqual(got[0], sent) {
		t.Fatalf("messages of the deleted user: %+v", got)
	}
	_, err = s.DeleteAccount(ctx, d, 778)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DeleteAccount(ctx, d+1000, 778)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.ChangePassword(ctx, d, "h", store.Session{TokenHash: h[:], UserID: d, Device: "pc", CreatedAt: 1, ExpiresAt: 2}), store.ErrNotFound)
}
