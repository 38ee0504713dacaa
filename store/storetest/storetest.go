package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Run runs the conformance suite; open must return a Store on a fresh,
// empty database (closed by the caller's t.Cleanup or by Run).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"Search", testSearch},
		{"Profile", testProfile},
		{"Sessions", testSessions},
		{"DisabledUsers", testDisabledUsers},
		{"FriendRequests", testFriendRequests},
		{"FriendRemove", testFriendRemove},
		{"ConcurrentFriendRequests", testConcurrentFriendRequests},
		{"Groups", testGroups},
		{"Messages", testMessages},
		{"Idempotency", testIdempotency},
		{"Cursors", testCursors},
		{"Conversations", testConversations},
		{"ConcurrentCursors", testConcurrentCursors},
		{"Files", testFiles},
		{"ConcurrentAppend", testConcurrentAppend},
		{"ConcurrentIdempotency", testConcurrentIdempotency},
		{"MixedBatch", testMixedBatch},
		{"BigMessages", testBigMessages},
		{"MentionsAndReplies", testMentionsAndReplies},
		{"Recall", testRecall},
		{"SearchMessages", testSearchMessages},
		{"SearchEdges", testSearchEdges},
		{"GroupAdmin", testGroupAdmin},
		{"AccountSecurity", testAccountSecurity},
		{"DeleteAccount", testDeleteAccount},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// must turns (value, error) into a function that fails t on the error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// NewUsers creates n users named prefix0.. and returns them.
func NewUsers(t *testing.T, s store.Store, prefix string, n int) []store.User {
	t.Helper()
	ctx := context.Background()
	out := make([]store.User, n)
	for i := range out {
		out[i] = must(s.CreateUser(ctx, fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("Nick %s%d", prefix, i), "$argon2id$fake", 1000))(t)
	}
	return out
}

// MakeFriends makes a and b friends and returns their p: conversation.
func MakeFriends(t *testing.T, s store.Store, a, b int64) string {
	t.Helper()
	ctx := context.Background()
	fr := must(s.CreateFriendRequest(ctx, a, b, "hi", 2000))(t)
	must(s.RespondFriendRequest(ctx, fr.ID, true, 2001))(t)
	return protocol.PrivateConv(a, b)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := must(s.CreateUser(ctx, "Alice_1", "Alice", "hash-a", 1234))(t)
	if u.ID <= 0 || u.Username != "Alice_1" || u.Nickname != "Alice" {
		t.Fatalf("created %+v", u)
	}
	_, err := s.CreateUser(ctx, "alice_1", "other", "h", 1)
	wantErr(t, err, store.ErrUsernameTaken)
	got := must(s.UserByName(ctx, "ALICE_1"))(t)
	if got.ID != u.ID || got.PasswordHash != "hash-a" || got.CreatedAt != 1234 || got.Username != "Alice_1" {
		t.Fatalf("by name %+v", got)
	}
	got = must(s.UserByID(ctx, u.ID))(t)
	if got.Username != "Alice_1" || got.PasswordHash != "hash-a" {
		t.Fatalf("by id %+v", got)
	}
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UserByID(ctx, u.ID+1000)
	wantErr(t, err, store.ErrNotFound)
	b := must(s.CreateUser(ctx, "bob", "Bob", "hash-b", 1))(t)
	m := must(s.UsersByIDs(ctx, []int64{u.ID, b.ID, 999999}))(t)
	if len(m) != 2 || m[b.ID].Username != "bob" || m[u.ID].PasswordHash != "" {
		t.Fatalf("by ids %+v", m)
	}
	if m := must(s.UsersByIDs(ctx, nil))(t); len(m) != 0 {
		t.Fatalf("by no ids %+v", m)
	}
}

func testSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(s.CreateUser(ctx, "carol", "Zed", "h", 1))(t)
	must(s.CreateUser(ctx, "Carl", "x", "h", 1))(t)
	must(s.CreateUser(ctx, "dave", "Caramel 100%", "h", 1))(t)
	must(s.CreateUser(ctx, "erin", "100_percent", "h", 1))(t)
	must(s.CreateUser(ctx, "frank", "1000 percent", "h", 1))(t)
	names := func(us []store.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
			if u.PasswordHash != "" {
				t.Fatal("search leaked a password hash")
			}
		}
		return out
	}
	got := names(must(s.SearchUsers(ctx, "CAR", 50))(t))
	if fmt.Sprint(got) != "[Carl carol dave]" {
		t.Fatalf("search car: %v", got)
	}
	if got := names(must(s.SearchUsers(ctx, "car", 2))(t)); len(got) != 2 {
		t.Fatalf("limit 2: %v", got)
	}
	if got := names(must(s.SearchUsers(ctx, "zed", 50))(t)); fmt.Sprint(got) != "[carol]" {
		t.Fatalf("by nickname: %v", got)
	}
	// LIKE wildcards in the query are literal.
	if got := names(must(s.SearchUsers(ctx, "100_", 50))(t)); fmt.Sprint(got) != "[erin]" {
		t.Fatalf("underscore literal: %v", got)
	}
	if got := names(must(s.SearchUsers(ctx, "caramel 100%", 50))(t)); fmt.Sprint(got) != "[dave]" {
		t.Fatalf("percent literal: %v", got)
	}
	if got := must(s.SearchUsers(ctx, "", 50))(t); len(got) != 0 {
		t.Fatalf("empty prefix: %v", got)
	}
	if got := must(s.SearchUsers(ctx, "nomatch", 50))(t); got == nil || len(got) != 0 {
		t.Fatalf("no match: %#v", got)
	}
}

func testProfile(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := must(s.CreateUser(ctx, "pat", "Pat", "h", 1))(t)
	nick, sig := "Patricia", "hello there"
	got := must(s.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Nickname: &nick, Signature: &sig}))(t)
	if got.Nickname != nick || got.Signature != sig || got.Username != "pat" || got.AvatarSHA256 != "" || got.PasswordHash != "" {
		t.Fatalf("updated %+v", got)
	}
	// The new nickname is searchable, the old one is not.
	if r := must(s.SearchUsers(ctx, "patri", 5))(t); len(r) != 1 {
		t.Fatalf("search new nickname: %v", r)
	}
	img := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}
	got = must(s.UpdateProfile(ctx, u.ID, store.ProfileUpdate{SetAvatar: true, Avatar: img}))(t)
	sum := sha256.Sum256(img)
	if got.AvatarSHA256 != hex.EncodeToString(sum[:]) || got.Nickname != nick {
		t.Fatalf("avatar set %+v", got)
	}
	if a := must(s.Avatar(ctx, u.ID))(t); string(a) != string(img) {
		t.Fatalf("avatar bytes %x", a)
	}
	// Same values again: still found (not "0 rows changed").
	must(s.UpdateProfile(ctx, u.ID, store.ProfileUpdate{Nickname: &nick}))(t)
	got = must(s.UpdateProfile(ctx, u.ID, store.ProfileUpdate{SetAvatar: true}))(t)
	if got.AvatarSHA256 != "" {
		t.Fatalf("avatar cleared %+v", got)
	}
	if a := must(s.Avatar(ctx, u.ID))(t); a != nil {
		t.Fatalf("cleared avatar bytes %x", a)
	}
	_, err := s.UpdateProfile(ctx, u.ID+100, store.ProfileUpdate{Nickname: &nick})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Avatar(ctx, u.ID+100)
	wantErr(t, err, store.ErrNotFound)
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := NewUsers(t, s, "sess", 1)[0]
	h1 := sha256.Sum256([]byte("token-1"))
	h2 := sha256.Sum256([]byte("token-2"))
	if err := s.CreateSession(ctx, store.Session{TokenHash: h1[:], UserID: u.ID, Device: "phone", CreatedAt: 10, ExpiresAt: 100}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: h2[:], UserID: u.ID, Device: "pc", CreatedAt: 10, ExpiresAt: 50}); err != nil {
		t.Fatal(err)
	}
	ss := must(s.Session(ctx, h1[:], 20))(t)
	if ss.UserID != u.ID || ss.Device != "phone" || ss.ExpiresAt != 100 {
		t.Fatalf("session %+v", ss)
	}
	_, err := s.Session(ctx, h2[:], 60)
	wantErr(t, err, store.ErrNotFound) // expired
	// A token login's read: the session with its user, by name.
	su, ss2, err := s.SessionUser(ctx, strings.ToUpper(u.Username), h1[:], 20)
	if err != nil || su.ID != u.ID || su.Username != u.Username || su.PasswordHash != "" || ss2.UserID != u.ID || ss2.Device != "phone" || ss2.ExpiresAt != 100 {
		t.Fatalf("session user %+v session %+v: %v", su, ss2, err)
	}
	other := NewUsers(t, s, "sess2", 1)[0]
	_, _, err = s.SessionUser(ctx, other.Username, h1[:], 20)
	wantErr(t, err, store.ErrNotFound) // another user's token
	_, _, err = s.SessionUser(ctx, u.Username, h2[:], 60)
	wantErr(t, err, store.ErrNotFound) // expired
	h3 := sha256.Sum256([]byte("token-3"))
	if err := s.CreateSession(ctx, store.Session{TokenHash: h3[:], UserID: other.ID, Device: "pc", CreatedAt: 10, ExpiresAt: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAccount(ctx, other.ID, 30); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.SessionUser(ctx, other.Username, h3[:], 40)
	wantErr(t, err, store.ErrNotFound) // deleted account
	if n := must(s.PruneSessions(ctx, 60))(t); n != 1 {
		t.Fatalf("pruned %d", n)
	}
	if err := s.DeleteSession(ctx, h1[:]); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, h1[:], 20)
	wantErr(t, err, store.ErrNotFound)
	if err := s.DeleteSession(ctx, h1[:]); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func testFriendRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "fr", 3)
	a, b, c := us[0].ID, us[1].ID, us[2].ID
	_, err := s.CreateFriendRequest(ctx, a, 999999, "", 1)
	wantErr(t, err, store.ErrNotFound)
	r1 := must(s.CreateFriendRequest(ctx, a, b, "hi b", 10))(t)
	if r1.ID <= 0 || r1.Status != store.RequestPending || r1.Note != "hi b" {
		t.Fatalf("request %+v", r1)
	}
	_, err = s.CreateFriendRequest(ctx, a, b, "again", 11)
	wantErr(t, err, store.ErrRequestPending)
	_, err = s.CreateFriendRequest(ctx, b, a, "reverse", 11)
	wantErr(t, err, store.ErrRequestPending)
	r2 := must(s.CreateFriendRequest(ctx, c, a, "hi a", 12))(t)
	in, out := must2(t)(s.PendingFriendRequests(ctx, a, 100))
	if len(in) != 1 || in[0].ID != r2.ID || len(out) != 1 || out[0].ID != r1.ID {
		t.Fatalf("pending of a: in %+v out %+v", in, out)
	}
	if in, answered := must2(t)(s.FriendNotices(ctx, a, 100)); len(in) != 1 || in[0] != r2 || len(answered) != 0 {
		t.Fatalf("notices of a: incoming %+v answered %+v", in, answered)
	}
	if got := must(s.FriendRequest(ctx, r1.ID))(t); got != r1 {
		t.Fatalf("read %+v want %+v", got, r1)
	}
	_, err = s.FriendRequest(ctx, r1.ID+100)
	wantErr(t, err, store.ErrNotFound)

	acc := must(s.RespondFriendRequest(ctx, r1.ID, true, 20))(t)
	if acc.Status != store.RequestAccepted || acc.RespondedAt != 20 || acc.From != a {
		t.Fatalf("accepted %+v", acc)
	}
	_, err = s.RespondFriendRequest(ctx, r1.ID, false, 21)
	wantErr(t, err, store.ErrNotPending)
	_, err = s.RespondFriendRequest(ctx, r1.ID+100, true, 21)
	wantErr(t, err, store.ErrNotFound)
	for _, p := range [][2]int64{{a, b}, {b, a}} {
		if ok := must(s.AreFriends(ctx, p[0], p[1]))(t); !ok {
			t.Fatalf("%v not friends", p)
		}
	}
	if ok := must(s.AreFriends(ctx, a, c))(t); ok {
		t.Fatal("a, c friends before answering")
	}
	_, err = s.CreateFriendRequest(ctx, b, a, "", 22)
	wantErr(t, err, store.ErrAlreadyFriends)
	conv := protocol.PrivateConv(a, b)
	for _, u := range []int64{a, b} {
		if ok := must(s.IsConvMember(ctx, u, conv))(t); !ok {
			t.Fatalf("%d not in %s", u, conv)
		}
	}
	fs := must(s.Friends(ctx, b, 0))(t)
	if len(fs) != 1 || fs[0].ID != a || fs[0].Username != us[0].Username || fs[0].PasswordHash != "" {
		t.Fatalf("friends of b %+v", fs)
	}

	rej := must(s.RespondFriendRequest(ctx, r2.ID, false, 30))(t)
	if rej.Status != store.RequestRejected {
		t.Fatalf("rejected %+v", rej)
	}
	if ok := must(s.AreFriends(ctx, a, c))(t); ok {
		t.Fatal("friends after reject")
	}
	// Answers owed to requesters: a's request (accepted) and c's (rejected).
	_, ua := must2(t)(s.FriendNotices(ctx, a, 100))
	_, uc := must2(t)(s.FriendNotices(ctx, c, 100))
	if len(ua) != 1 || ua[0].ID != r1.ID || len(uc) != 1 || uc[0].ID != r2.ID || uc[0].Status != store.RequestRejected {
		t.Fatalf("unnotified a %+v c %+v", ua, uc)
	}
	if in, got := must2(t)(s.FriendNotices(ctx, b, 100)); len(got) != 0 || len(in) != 0 {
		t.Fatalf("b owed %+v %+v", in, got)
	}
	if err := s.MarkResponsesNotified(ctx, []int64{r1.ID, r2.ID}); err != nil {
		t.Fatal(err)
	}
	if _, got := must2(t)(s.FriendNotices(ctx, a, 100)); len(got) != 0 {
		t.Fatalf("still owed %+v", got)
	}
	in, out = must2(t)(s.PendingFriendRequests(ctx, a, 100))
	if len(in) != 0 || len(out) != 0 {
		t.Fatalf("pending after answers: %+v %+v", in, out)
	}
	// A rejected request can be made again.
	must(s.CreateFriendRequest(ctx, c, a, "again", 40))(t)
}

func must2(t *testing.T) func(a, b []store.FriendRequest, err error) ([]store.FriendRequest, []store.FriendRequest) {
	return func(a, b []store.FriendRequest, err error) ([]store.FriendRequest, []store.FriendRequest) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func testFriendRemove(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "rm", 2)
	a, b := us[0].ID, us[1].ID
	conv := MakeFriends(t, s, a, b)
	must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "before", ClientMsgID: "x1", TS: 5}))
	if err := s.RemoveFriend(ctx, b, a); err != nil {
		t.Fatal(err)
	}
	if ok := must(s.AreFriends(ctx, a, b))(t); ok {
		t.Fatal("still friends")
	}
	wantErr(t, s.RemoveFriend(ctx, a, b), store.ErrNotFound)
	if fs := must(s.Friends(ctx, a, 10))(t); len(fs) != 0 {
		t.Fatalf("friends after remove %+v", fs)
	}
	// Friends again: the conversation and its history continue.
	MakeFriends(t, s, b, a)
	m, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: b, Type: "text", Body: "after", ClientMsgID: "x2", TS: 6}))
	if m.Seq != 2 {
		t.Fatalf("seq after re-friending %d", m.Seq)
	}
}

func must2m(t *testing.T) func(m store.Message, dup bool, err error) (store.Message, bool) {
	return func(m store.Message, dup bool, err error) (store.Message, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m, dup
	}
}

func testGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "grp", 4)
	o, m1, m2, x := us[0].ID, us[1].ID, us[2].ID, us[3].ID
	g := must(s.CreateGroup(ctx, "team", o, []int64{m1, m2, m1, o}, 100))(t)
	if g.ID <= 0 || g.Name != "team" || g.Owner != o || g.MemberCount != 3 {
		t.Fatalf("created %+v", g)
	}
	if got := must(s.Group(ctx, g.ID))(t); got != g {
		t.Fatalf("read %+v want %+v", got, g)
	}
	if got := must(s.GroupMembers(ctx, g.ID))(t); fmt.Sprint(got) != fmt.Sprint([]int64{o, m1, m2}) {
		t.Fatalf("members %v", got)
	}
	jg := must(s.JoinGroup(ctx, g.ID, x, 101))(t)
	if jg.MemberCount != 4 {
		t.Fatalf("after join %+v", jg)
	}
	_, err := s.JoinGroup(ctx, g.ID, x, 102)
	wantErr(t, err, store.ErrAlreadyMember)
	_, err = s.JoinGroup(ctx, g.ID+100, x, 102)
	wantErr(t, err, store.ErrNotFound)
	if ok := must(s.IsGroupMember(ctx, g.ID, x))(t); !ok {
		t.Fatal("joined but not member")
	}
	g2 := must(s.CreateGroup(ctx, "other", x, nil, 103))(t)
	gs := must(s.GroupsOfUser(ctx, x, 10))(t)
	if len(gs) != 2 || gs[0].ID != g.ID || gs[0].MemberCount != 4 || gs[1].ID != g2.ID || gs[1].MemberCount != 1 {
		t.Fatalf("groups of x %+v", gs)
	}
	if err := s.LeaveGroup(ctx, g.ID, x); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.LeaveGroup(ctx, g.ID, x), store.ErrNotFound)
	if got := must(s.Group(ctx, g.ID))(t); got.MemberCount != 3 {
		t.Fatalf("member count after a leave and a refused one: %d, want 3", got.MemberCount)
	}
	if ok := must(s.IsGroupMember(ctx, g.ID, x))(t); ok {
		t.Fatal("left but member")
	}
	if gs := must(s.GroupsOfUser(ctx, x, 10))(t); len(gs) != 1 || gs[0].ID != g2.ID {
		t.Fatalf("groups of x after leave %+v", gs)
	}
	// Group conversation works and its members are the group's.
	m, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: protocol.GroupConv(g.ID), From: m1, Type: "text", Body: "hey", ClientMsgID: "g1", TS: 104}))
	if m.Seq != 1 {
		t.Fatalf("group msg %+v", m)
	}
	if got := must(s.ConvMembers(ctx, protocol.GroupConv(g.ID)))(t); len(got) != 3 {
		t.Fatalf("conv members %v", got)
	}
	if err := s.DismissGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Group(ctx, g.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GroupMembers(ctx, g.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DismissGroup(ctx, g.ID), store.ErrNotFound)
	if gs := must(s.GroupsOfUser(ctx, o, 10))(t); len(gs) != 0 {
		t.Fatalf("groups of owner after dismiss %+v", gs)
	}
	if ok := must(s.IsGroupMember(ctx, g.ID, m1))(t); ok {
		t.Fatal("member of dismissed group")
	}
}

func testMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "msg", 2)
	a, b := us[0].ID, us[1].ID
	conv := MakeFriends(t, s, a, b)
	var sent []store.Message
	for i := 1; i <= 5; i++ {
		from := a
		if i%2 == 0 {
			from = b
		}
		m, dup := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: from, Type: "text", Body: fmt.Sprintf("m%d ✓", i), ClientMsgID: fmt.Sprintf("c%d", i), TS: int64(1000 + i)}))
		if dup || m.Seq != int64(i) || m.ID <= 0 || m.Conv != conv || m.From != from || m.TS != int64(1000+i) || m.Body != fmt.Sprintf("m%d ✓", i) || m.Type != "text" {
			t.Fatalf("append %d: %+v dup=%v", i, m, dup)
		}
		sent = append(sent, m)
	}
	if got := must(s.Message(ctx, sent[2].ID))(t); !reflect.DeepEqual(got, sent[2]) {
		t.Fatalf("by id %+v want %+v", got, sent[2])
	}
	_, err := s.Message(ctx, sent[4].ID+1000)
	wantErr(t, err, store.ErrNotFound)
	got := must(s.Messages(ctx, conv, 2, 2))(t)
	if len(got) != 2 || !reflect.DeepEqual(got, sent[2:4]) {
		t.Fatalf("after 2 limit 2: %+v", got)
	}
	if got := must(s.Messages(ctx, conv, 0, 0))(t); len(got) != 5 {
		t.Fatalf("limit 0 means the default bound: got %d", len(got))
	}
	if got := must(s.Messages(ctx, conv, 5, 10))(t); got == nil || len(got) != 0 {
		t.Fatalf("after last: %#v", got)
	}
	_, _, err = s.AppendMessage(ctx, store.NewMessage{Conv: "p:1:999999", From: a, Type: "text", Body: "x", ClientMsgID: "nope", TS: 1})
	wantErr(t, err, store.ErrNotFound)
	// Messages without idempotency key (server-made) are each stored.
	m1, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "file", Body: "42", TS: 2000}))
	m2, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "file", Body: "42", TS: 2000}))
	if m1.Seq != 6 || m2.Seq != 7 || m1.ClientMsgID != "" {
		t.Fatalf("keyless %+v %+v", m1, m2)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "idem", 2)
	a, b := us[0].ID, us[1].ID
	conv := MakeFriends(t, s, a, b)
	m, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "one", ClientMsgID: "K", TS: 1}))
	again, dup := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "changed", ClientMsgID: "K", TS: 2}))
	if !dup || !reflect.DeepEqual(again, m) {
		t.Fatalf("repeat: %+v dup=%v want %+v", again, dup, m)
	}
	// Another sender may use the same key; keys are case-sensitive.
	other, dup := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: b, Type: "text", Body: "b", ClientMsgID: "K", TS: 3}))
	if dup || other.Seq != 2 {
		t.Fatalf("other sender %+v dup=%v", other, dup)
	}
	lower, dup := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: a, Type: "text", Body: "k", ClientMsgID: "k", TS: 4}))
	if dup || lower.Seq != 3 {
		t.Fatalf("lower-case key %+v dup=%v", lower, dup)
	}
	if got := must(s.Messages(ctx, conv, 0, 10))(t); len(got) != 3 {
		t.Fatalf("stored %d messages, want 3", len(got))
	}
}

func testCursors(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "cur", 3)
	a, b, x := us[0].ID, us[1].ID, us[2].ID
	conv := MakeFriends(t, s, a, b)
	send := func(from int64, k string) store.Message {
		m, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: from, Type: "text", Body: k, ClientMsgID: k, TS: 1}))
		return m
	}
	info := func(u int64) store.ConvInfo {
		cs := must(s.Conversations(ctx, u, 10))(t)
		if len(cs) != 1 {
			t.Fatalf("convs of %d: %+v", u, cs)
		}
		return cs[0]
	}
	send(a, "1")
	send(a, "2")
	if ci := info(a); ci.AckSeq != 2 || ci.LastSeq != 2 {
		t.Fatalf("sender cursor follows own sends: %+v", ci)
	}
	if ci := info(b); ci.AckSeq != 0 {
		t.Fatalf("receiver cursor moved: %+v", ci)
	}
	send(b, "3") // b's cursor is at 0, not 2: stays
	if ci := info(b); ci.AckSeq != 0 {
		t.Fatalf("receiver cursor jumped on send: %+v", ci)
	}
	send(a, "4") // a's cursor at 2, new seq 4: stays
	if ci := info(a); ci.AckSeq != 2 {
		t.Fatalf("cursor jumped over another's message: %+v", ci)
	}
	if err := s.Ack(ctx, b, conv, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, b, conv, 1); err != nil {
		t.Fatal(err)
	}
	if ci := info(b); ci.AckSeq != 3 {
		t.Fatalf("ack moved back: %+v", ci)
	}
	if err := s.Ack(ctx, b, conv, 99); err != nil {
		t.Fatal(err)
	}
	if ci := info(b); ci.AckSeq != 4 {
		t.Fatalf("ack not clamped to last seq: %+v", ci)
	}
	if err := s.MarkRead(ctx, b, conv, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRead(ctx, b, conv, 1); err != nil {
		t.Fatal(err)
	}
	if ci := info(b); ci.ReadSeq != 2 || ci.AckSeq != 4 {
		t.Fatalf("read cursor: %+v", ci)
	}
	wantErr(t, s.Ack(ctx, x, conv, 1), store.ErrNotFound)
	wantErr(t, s.MarkRead(ctx, x, conv, 1), store.ErrNotFound)
	wantErr(t, s.Ack(ctx, a, "g:424242", 1), store.ErrNotFound)
}

func testConversations(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "cv", 3)
	a, b, c := us[0].ID, us[1].ID, us[2].ID
	pab := MakeFriends(t, s, a, b)
	pac := MakeFriends(t, s, a, c)
	g := must(s.CreateGroup(ctx, "g", a, []int64{b}, 5))(t)
	gc := protocol.GroupConv(g.ID)
	must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: pab, From: b, Type: "text", Body: "old", ClientMsgID: "1", TS: 3000}))
	last, _ := must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: gc, From: b, Type: "text", Body: "newest", ClientMsgID: "2", TS: 5000}))
	must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: pab, From: b, Type: "text", Body: "mid", ClientMsgID: "3", TS: 4000}))
	cs := must(s.Conversations(ctx, a, 10))(t)
	if len(cs) != 3 || cs[0].Conv != gc || cs[1].Conv != pab || cs[2].Conv != pac {
		t.Fatalf("order by activity: %+v", cs)
	}
	if cs[0].Last == nil || !reflect.DeepEqual(*cs[0].Last, last) || cs[0].LastSeq != 1 {
		t.Fatalf("group conv %+v", cs[0])
	}
	if cs[1].LastSeq != 2 || cs[1].AckSeq != 0 || cs[1].Last.Body != "mid" {
		t.Fatalf("p conv %+v", cs[1])
	}
	if cs[2].Last != nil || cs[2].LastSeq != 0 {
		t.Fatalf("empty conv %+v", cs[2])
	}
	if cs := must(s.Conversations(ctx, a, 2))(t); len(cs) != 2 {
		t.Fatalf("limit: %+v", cs)
	}
	if cs := must(s.Conversations(ctx, 999999, 10))(t); cs == nil || len(cs) != 0 {
		t.Fatalf("stranger: %#v", cs)
	}
	if got := must(s.ConvMembers(ctx, pab))(t); fmt.Sprint(got) != fmt.Sprint([]int64{a, b}) {
		t.Fatalf("members %v", got)
	}
	if ok := must(s.IsConvMember(ctx, c, pab))(t); ok {
		t.Fatal("c in a:b")
	}
}

func testFiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := NewUsers(t, s, "file", 1)[0]
	f := must(s.CreateFile(ctx, store.FileMeta{Owner: u.ID, Conv: "p:1:2", Name: "a.txt", Size: 1 << 40, SHA256: "ab", CreatedAt: 7, Node: "node-b_2"}))(t)
	if f.ID <= 0 || f.CompletedAt != 0 || f.Node != "node-b_2" {
		t.Fatalf("created %+v", f)
	}
	if got := must(s.File(ctx, f.ID))(t); got != f {
		t.Fatalf("read %+v want %+v", got, f)
	}
	if err := s.MarkFileComplete(ctx, f.ID, 9); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFileComplete(ctx, f.ID, 9); err != nil {
		t.Fatalf("completing twice: %v", err)
	}
	if got := must(s.File(ctx, f.ID))(t); got.CompletedAt != 9 {
		t.Fatalf("completed %+v", got)
	}
	_, err := s.File(ctx, f.ID+100)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.MarkFileComplete(ctx, f.ID+100, 1), store.ErrNotFound)
}

// Appenders is how many goroutines the concurrency tests run.
const Appenders = 200

func testConcurrentAppend(t *testing.T, s store.Store) {
	Concurrent(t, s)
}

// Concurrent runs Appenders goroutines spread over the given stores (which
// must share one database: "several processes") appending to one group
// conversation, and checks that seqs are 1..N with no gap or repeat, ids
// are unique, each sender's own seqs increase, and every acknowledged
// message is stored as acknowledged.
func Concurrent(t *testing.T, stores ...store.Store) {
	ctx := context.Background()
	s0 := stores[0]
	us := NewUsers(t, s0, "conc", 2)
	g := must(s0.CreateGroup(ctx, "conc", us[0].ID, []int64{us[1].ID}, 1))(t)
	conv := protocol.GroupConv(g.ID)
	const per = 5
	var wg sync.WaitGroup
	acked := make([][]store.Message, Appenders)
	var failed atomic.Value
	for w := 0; w < Appenders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%len(stores)]
			for i := 0; i < per; i++ {
				m, dup, err := s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: us[w%2].ID, Type: "text",
					Body: fmt.Sprintf("%d/%d", w, i), ClientMsgID: fmt.Sprintf("w%d-%d", w, i), TS: int64(i)})
				if err != nil || dup {
					failed.Store(fmt.Sprintf("append %d/%d: dup=%v %v", w, i, dup, err))
					return
				}
				acked[w] = append(acked[w], m)
			}
		}(w)
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	const total = Appenders * per
	all := must(s0.Messages(ctx, conv, 0, total+10))(t)
	if len(all) != total {
		t.Fatalf("stored %d messages, want %d", len(all), total)
	}
	byID := map[int64]store.Message{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq gap: position %d has seq %d", i, m.Seq)
		}
		if _, ok := byID[m.ID]; ok {
			t.Fatalf("duplicate msg id %d", m.ID)
		}
		byID[m.ID] = m
	}
	for w, ms := range acked {
		for i, m := range ms {
			if !reflect.DeepEqual(byID[m.ID], m) {
				t.Fatalf("acknowledged %+v, stored %+v", m, byID[m.ID])
			}
			if i > 0 && m.Seq <= ms[i-1].Seq {
				t.Fatalf("sender %d: seq %d after %d", w, m.Seq, ms[i-1].Seq)
			}
		}
	}
	if cs := must(s0.Conversations(ctx, us[0].ID, 10))(t); len(cs) != 1 || cs[0].LastSeq != total {
		t.Fatalf("conversation after concurrency: %+v", cs)
	}
}

func testConcurrentIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "ci", 2)
	conv := MakeFriends(t, s, us[0].ID, us[1].ID)
	const n = 50
	res := make([]store.Message, n)
	dups := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i], dups[i], errs[i] = s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: us[0].ID, Type: "text", Body: "same", ClientMsgID: "SAME", TS: 1})
		}(i)
	}
	wg.Wait()
	originals := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !reflect.DeepEqual(res[i], res[0]) {
			t.Fatalf("different results %+v %+v", res[i], res[0])
		}
		if !dups[i] {
			originals++
		}
	}
	if originals != 1 {
		t.Fatalf("%d callers were told they stored the message", originals)
	}
	if got := must(s.Messages(ctx, conv, 0, 10))(t); len(got) != 1 {
		t.Fatalf("stored %d", len(got))
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "cl", 2)
	conv := MakeFriends(t, s, us[0].ID, us[1].ID)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping an open store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: us[0].ID, Type: "text", Body: "x", ClientMsgID: "x", TS: 1})
	wantErr(t, err, store.ErrClosed)
	wantErr(t, s.Ping(ctx), store.ErrClosed)
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func testConcurrentFriendRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "cfr", 2)
	const n = 20
	var wg sync.WaitGroup
	var created, pending atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			from, to := us[i%2].ID, us[1-i%2].ID
			_, err := s.CreateFriendRequest(ctx, from, to, "", 1)
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, store.ErrRequestPending):
				pending.Add(1)
			default:
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if created.Load() != 1 || pending.Load() != n-1 {
		t.Fatalf("%d requests created, %d refused as pending; want 1 and %d", created.Load(), pending.Load(), n-1)
	}
}

// Appends to a missing conversation fail alone with ErrNotFound; the
// others, possibly in the same batch, are stored.
func testMixedBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "mix", 2)
	conv := MakeFriends(t, s, us[0].ID, us[1].ID)
	const n = 40
	var wg sync.WaitGroup
	var ok, missing atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			target := conv
			if i%2 == 1 {
				target = "g:987654"
			}
			_, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: target, From: us[0].ID, Type: "text", Body: "x", ClientMsgID: fmt.Sprintf("mix%d", i), TS: 1})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrUnavailable):
				missing.Add(1)
			default:
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != n/2 || missing.Load() != n/2 {
		t.Fatalf("%d stored, %d not found; want %d each", ok.Load(), missing.Load(), n/2)
	}
	if got := must(s.Messages(ctx, conv, 0, 100))(t); len(got) != n/2 || got[len(got)-1].Seq != n/2 {
		t.Fatalf("stored %d messages", len(got))
	}
}

// Concurrent acks and reads in any order leave each cursor at the largest
// seq acknowledged.
func testConcurrentCursors(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "cc", 2)
	conv := MakeFriends(t, s, us[0].ID, us[1].ID)
	for i := 0; i < 30; i++ {
		must2m(t)(s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: us[0].ID, Type: "text", Body: "x", TS: 1}))
	}
	var wg sync.WaitGroup
	for i := 30; i >= 1; i-- {
		wg.Add(1)
		go func(seq int64) {
			defer wg.Done()
			if err := s.Ack(ctx, us[1].ID, conv, seq); err != nil {
				t.Error(err)
			}
			if err := s.MarkRead(ctx, us[1].ID, conv, seq-1); err != nil {
				t.Error(err)
			}
		}(int64(i))
	}
	wg.Wait()
	cs := must(s.Conversations(ctx, us[1].ID, 10))(t)
	if len(cs) != 1 || cs[0].AckSeq != 30 || cs[0].ReadSeq != 29 {
		t.Fatalf("after concurrent cursor moves: %+v", cs)
	}
}

// Big messages appended together still fit the database's packet limits.
func testBigMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "big", 2)
	conv := MakeFriends(t, s, us[0].ID, us[1].ID)
	body := strings.Repeat("字", 16<<10/3) // about 16 KiB of UTF-8
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, _, err := s.AppendMessage(ctx, store.NewMessage{Conv: conv, From: us[0].ID, Type: "text", Body: body, ClientMsgID: fmt.Sprint(i), TS: 1}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	got := must(s.Messages(ctx, conv, 0, 500))(t)
	if len(got) != 100 || got[99].Body != body {
		t.Fatalf("stored %d big messages", len(got))
	}
}

// testDisabledUsers: disabling an account marks it wherever users are read
// and revokes its sessions; enabling clears the mark; ListUsers pages by id.
func testDisabledUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	us := NewUsers(t, s, "dis", 3)
	a, b := us[0], us[1]
	for _, u := range us {
		if err := s.CreateSession(ctx, store.Session{TokenHash: []byte(fmt.Sprintf("%032d", u.ID)), UserID: u.ID, Device: "d", CreatedAt: 1, ExpiresAt: 1 << 50}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RespondFriendRequest(ctx, must(s.CreateFriendRequest(ctx, a.ID, b.ID, "", 1))(t).ID, true, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	if u := must(s.UserByName(ctx, a.Username))(t); !u.Disabled || u.PasswordHash == "" {
		t.Fatalf("UserByName after disable: %+v", u)
	}
	if u := must(s.UserByID(ctx, b.ID))(t); u.Disabled {
		t.Fatalf("another user disabled: %+v", u)
	}
	if fs := must(s.Friends(ctx, b.ID, 0))(t); len(fs) != 1 || !fs[0].Disabled {
		t.Fatalf("Friends shows %+v, want the disabled friend marked", fs)
	}
	if _, err := s.Session(ctx, []byte(fmt.Sprintf("%032d", a.ID)), 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of the disabled user: %v, want it revoked", err)
	}
	if _, err := s.Session(ctx, []byte(fmt.Sprintf("%032d", b.ID)), 2); err != nil {
		t.Fatalf("session of another user: %v", err)
	}
	if err := s.SetUserDisabled(ctx, a.ID, false); err != nil {
		t.Fatal(err)
	}
	if u := must(s.UserByID(ctx, a.ID))(t); u.Disabled {
		t.Fatalf("UserByID after enable: %+v", u)
	}
	wantErr(t, s.SetUserDisabled(ctx, 1<<40, true), store.ErrNotFound)

	page := must(s.ListUsers(ctx, 0, 2))(t)
	if len(page) != 2 || page[0].ID != us[0].ID || page[1].ID != us[1].ID || page[0].PasswordHash != "" {
		t.Fatalf("ListUsers first page: %+v", page)
	}
	if page = must(s.ListUsers(ctx, us[1].ID, 0))(t); len(page) != 1 || page[0].ID != us[2].ID {
		t.Fatalf("ListUsers after %d: %+v", us[1].ID, page)
	}
}
