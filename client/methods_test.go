package client

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// TestTypedMethods calls every typed method against canned replies and
// checks both the request body the server received and the decoded result.
func TestTypedMethods(t *testing.T) {
	s := newFakeServer(t)
	c := dialT(t, s.addr(), Options{})
	ok := protocol.OK()
	prof := protocol.Profile{UserID: 5, Username: "eve", Nickname: "Eve", Signature: "sig"}
	grp := protocol.Group{GroupID: 9, Name: "team", Owner: 1, MemberCount: 3}
	nick := "Evie"
	cases := []struct {
		name    string
		op      protocol.Op
		reply   any
		call    func(ctx context.Context) (any, error)
		wantReq string
		check   func(t *testing.T, got any)
	}{
		{"Profile", protocol.OpProfileGet, &protocol.ProfileGetResp{Status: ok, Profile: prof, Avatar: "AAE="},
			func(ctx context.Context) (any, error) { return c.Profile(ctx, 5) }, `{"user_id":5}`,
			func(t *testing.T, got any) {
				if r := got.(*protocol.ProfileGetResp); r.Profile.Username != "eve" || r.Avatar != "AAE=" {
					t.Fatalf("%+v", r)
				}
			}},
		{"UpdateProfile", protocol.OpProfileUpdate, &protocol.ProfileUpdateResp{Status: ok, Profile: prof},
			func(ctx context.Context) (any, error) {
				return c.UpdateProfile(ctx, protocol.ProfileUpdateReq{Nickname: &nick})
			}, `{"nickname":"Evie"}`,
			func(t *testing.T, got any) {
				if got.(*protocol.Profile).UserID != 5 {
					t.Fatal(got)
				}
			}},
		{"SetAvatar", protocol.OpProfileUpdate, &protocol.ProfileUpdateResp{Status: ok, Profile: prof},
			func(ctx context.Context) (any, error) { return c.SetAvatar(ctx, []byte{0, 1}) }, `{"avatar":"AAE="}`, nil},
		{"SearchUsers", protocol.OpUserSearch, &protocol.UserSearchResp{Status: ok, Users: []protocol.Profile{prof}},
			func(ctx context.Context) (any, error) { return c.SearchUsers(ctx, "ev") }, `{"query":"ev"}`,
			func(t *testing.T, got any) {
				if u := got.([]protocol.Profile); len(u) != 1 || u[0].Nickname != "Eve" {
					t.Fatal(u)
				}
			}},
		{"FriendRequest", protocol.OpFriendRequest, &protocol.FriendRequestResp{Status: ok, RequestID: 77},
			func(ctx context.Context) (any, error) { return c.FriendRequest(ctx, 5, "hello") }, `{"user_id":5,"note":"hello"}`,
			func(t *testing.T, got any) {
				if got.(int64) != 77 {
					t.Fatal(got)
				}
			}},
		{"FriendRespond", protocol.OpFriendRespond, &ok,
			func(ctx context.Context) (any, error) { return nil, c.FriendRespond(ctx, 77, false) }, `{"request_id":77,"accept":false}`, nil},
		{"FriendRemove", protocol.OpFriendRemove, &ok,
			func(ctx context.Context) (any, error) { return nil, c.FriendRemove(ctx, 5) }, `{"user_id":5}`, nil},
		{"Friends", protocol.OpFriendList, &protocol.FriendListResp{Status: ok, Friends: []protocol.Friend{{Profile: prof, Online: true}}},
			func(ctx context.Context) (any, error) { return c.Friends(ctx) }, `{}`,
			func(t *testing.T, got any) {
				if f := got.([]protocol.Friend); len(f) != 1 || !f[0].Online {
					t.Fatal(f)
				}
			}},
		{"FriendPending", protocol.OpFriendPending, &protocol.FriendPendingResp{Status: ok,
			Incoming: []protocol.FriendReq{{RequestID: 1, From: prof, Note: "n", Ts: 3}}},
			func(ctx context.Context) (any, error) { return c.FriendPending(ctx) }, `{}`,
			func(t *testing.T, got any) {
				if r := got.(*protocol.FriendPendingResp); len(r.Incoming) != 1 || len(r.Outgoing) != 0 {
					t.Fatal(r)
				}
			}},
		{"Read", protocol.OpMsgRead, &ok,
			func(ctx context.Context) (any, error) { return nil, c.Read(ctx, "g:9", 4) }, `{"conv":"g:9","seq":4}`, nil},
		{"Conversations", protocol.OpConvList, &protocol.ConvListResp{Status: ok, Convs: []protocol.ConvInfo{{Conv: "g:9", LastSeq: 4}}},
			func(ctx context.Context) (any, error) { return c.Conversations(ctx) }, `{}`,
			func(t *testing.T, got any) {
				if cv := got.([]protocol.ConvInfo); len(cv) != 1 || cv[0].LastSeq != 4 {
					t.Fatal(cv)
				}
			}},
		{"Recall", protocol.OpMsgRecall, &protocol.MsgRecallResp{Status: ok, Seq: 5},
			func(ctx context.Context) (any, error) { return c.Recall(ctx, "g:9", 4) }, `{"conv":"g:9","seq":4}`,
			func(t *testing.T, got any) {
				if got.(int64) != 5 {
					t.Fatal(got)
				}
			}},
		{"Typing", protocol.OpMsgTyping, &ok,
			func(ctx context.Context) (any, error) { return nil, c.Typing(ctx, "g:9") }, `{"conv":"g:9"}`, nil},
		{"SearchMessages", protocol.OpMsgSearch, &protocol.MsgSearchResp{Status: ok, Messages: []protocol.Message{{MsgID: 7, Conv: "g:9", Seq: 4, From: 1, Ts: 2, Type: "text", Body: "hi"}}, More: true},
			func(ctx context.Context) (any, error) {
				return c.SearchMessages(ctx, protocol.MsgSearchReq{Query: "hi", Conv: "g:9", BeforeMsgID: 8, Limit: 1})
			}, `{"query":"hi","conv":"g:9","before_msg_id":8,"limit":1}`,
			func(t *testing.T, got any) {
				if r := got.(*protocol.MsgSearchResp); len(r.Messages) != 1 || r.Messages[0].MsgID != 7 || !r.More {
					t.Fatal(r)
				}
			}},
		{"GroupCreate", protocol.OpGroupCreate, &protocol.GroupResp{Status: ok, Group: grp},
			func(ctx context.Context) (any, error) { return c.GroupCreate(ctx, "team", []int64{2, 3}) }, `{"name":"team","members":[2,3]}`,
			func(t *testing.T, got any) {
				if got.(*protocol.Group).MemberCount != 3 {
					t.Fatal(got)
				}
			}},
		{"GroupJoin", protocol.OpGroupJoin, &protocol.GroupResp{Status: ok, Group: grp},
			func(ctx context.Context) (any, error) { return c.GroupJoin(ctx, 9) }, `{"group_id":9}`, nil},
		{"GroupLeave", protocol.OpGroupLeave, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupLeave(ctx, 9) }, `{"group_id":9}`, nil},
		{"GroupKick", protocol.OpGroupKick, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupKick(ctx, 9, 5) }, `{"group_id":9,"user_id":5}`, nil},
		{"GroupDismiss", protocol.OpGroupDismiss, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupDismiss(ctx, 9) }, `{"group_id":9}`, nil},
		{"GroupMembers", protocol.OpGroupMembers, &protocol.GroupMembersResp{Status: ok, Members: []protocol.GroupMember{{Friend: protocol.Friend{Profile: prof}}}},
			func(ctx context.Context) (any, error) { return c.GroupMembers(ctx, 9) }, `{"group_id":9}`,
			func(t *testing.T, got any) {
				if len(got.([]protocol.GroupMember)) != 1 {
					t.Fatal(got)
				}
			}},
		{"GroupList", protocol.OpGroupList, &protocol.GroupListResp{Status: ok, Groups: []protocol.Group{grp}},
			func(ctx context.Context) (any, error) { return c.GroupList(ctx) }, `{}`,
			func(t *testing.T, got any) {
				if g := got.([]protocol.Group); len(g) != 1 || g[0].Name != "team" {
					t.Fatal(g)
				}
			}},
		{"FileOffer", protocol.OpFileOffer, &protocol.FileOfferResp{Status: ok, FileID: 4, UploadToken: "u", FileAddr: ":9001"},
			func(ctx context.Context) (any, error) {
				return c.FileOffer(ctx, protocol.FileOfferReq{ToGroup: 9, Name: "a.txt", Size: 3, Sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
			}, `{"to_group":9,"name":"a.txt","size":3,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`, nil},
		{"FileFetch", protocol.OpFileFetch, &protocol.FileFetchResp{Status: ok, DownloadToken: "d", FileAddr: ":9001", Size: 3},
			func(ctx context.Context) (any, error) { return c.FileFetch(ctx, 4) }, `{"file_id":4}`,
			func(t *testing.T, got any) {
				if got.(*protocol.FileFetchResp).DownloadToken != "d" {
					t.Fatal(got)
				}
			}},
		{"RoomCreate", protocol.OpRoomCreate, &protocol.RoomCreateResp{Status: ok, RoomID: 12},
			func(ctx context.Context) (any, error) { return c.RoomCreate(ctx, "standup") }, `{"name":"standup"}`,
			func(t *testing.T, got any) {
				if got.(int64) != 12 {
					t.Fatal(got)
				}
			}},
		{"RoomJoin", protocol.OpRoomJoin, &protocol.RoomJoinResp{Status: ok, Members: []protocol.Profile{prof}},
			func(ctx context.Context) (any, error) { return c.RoomJoin(ctx, 12) }, `{"room_id":12}`, nil},
		{"RoomLeave", protocol.OpRoomLeave, &ok,
			func(ctx context.Context) (any, error) { return nil, c.RoomLeave(ctx, 12) }, `{"room_id":12}`, nil},
		{"RoomSay", protocol.OpRoomSay, &ok,
			func(ctx context.Context) (any, error) { return nil, c.RoomSay(ctx, 12, "hi all") }, `{"room_id":12,"body":"hi all"}`, nil},
		{"GroupUpdate", protocol.OpGroupUpdate, &protocol.GroupResp{Status: ok, Group: grp},
			func(ctx context.Context) (any, error) { return c.GroupUpdate(ctx, 9, nil, &nick) }, `{"group_id":9,"notice":"Evie"}`,
			func(t *testing.T, got any) {
				if got.(*protocol.Group).GroupID != 9 {
					t.Fatal(got)
				}
			}},
		{"GroupSetRole", protocol.OpGroupSetRole, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupSetRole(ctx, 9, 5, protocol.RoleAdmin) },
			`{"group_id":9,"user_id":5,"role":"admin"}`, nil},
		{"GroupMute", protocol.OpGroupMute, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupMute(ctx, 9, 5, 1234) },
			`{"group_id":9,"user_id":5,"until":1234}`, nil},
		{"GroupTransfer", protocol.OpGroupTransfer, &ok,
			func(ctx context.Context) (any, error) { return nil, c.GroupTransfer(ctx, 9, 5) }, `{"group_id":9,"user_id":5}`, nil},
		{"ChangePassword", protocol.OpAccountPassword, &protocol.AccountPasswordResp{Status: ok, Token: "tok2"},
			func(ctx context.Context) (any, error) { return c.ChangePassword(ctx, "old-password", "new-password") },
			`{"old_password":"old-password","new_password":"new-password"}`,
			func(t *testing.T, got any) {
				if got.(string) != "tok2" || c.Token() != "tok2" {
					t.Fatal(got, c.Token())
				}
			}},
		{"Sessions", protocol.OpAccountSessions, &protocol.AccountSessionsResp{Status: ok,
			Sessions: []protocol.SessionInfo{{Device: "phone", Addr: "1.2.3.4:5", Since: 7, Current: true}}},
			func(ctx context.Context) (any, error) { return c.Sessions(ctx) }, `{}`,
			func(t *testing.T, got any) {
				if s := got.([]protocol.SessionInfo); len(s) != 1 || s[0].Device != "phone" || !s[0].Current {
					t.Fatal(s)
				}
			}},
		{"RevokeDevice", protocol.OpAccountRevoke, &ok,
			func(ctx context.Context) (any, error) { return nil, c.RevokeDevice(ctx, "laptop") }, `{"device":"laptop"}`, nil},
		{"DeleteAccount", protocol.OpAccountDelete, &ok,
			func(ctx context.Context) (any, error) { return nil, c.DeleteAccount(ctx, "password-1") }, `{"password":"password-1"}`,
			func(t *testing.T, got any) {
				if c.Token() != "" {
					t.Fatal("token kept after delete")
				}
			}},
		{"Logout", protocol.OpLogout, &ok,
			func(ctx context.Context) (any, error) { return nil, c.Logout(ctx) }, `{}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.setReply(tc.op, tc.reply)
			got, err := tc.call(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if req := s.lastRequest(tc.op); !sameJSON(t, req, tc.wantReq) {
				t.Fatalf("request body %s, want %s", req, tc.wantReq)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
	// A failure reply of any op comes back as *protocol.Error.
	s.setReply(protocol.OpGroupJoin, protocol.NewError(protocol.CodeNotFound, "no such group"))
	if _, err := c.GroupJoin(ctxT(t), 1); protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("want NOT_FOUND, got %v", err)
	}
	s.setReply(protocol.OpMsgRead, protocol.RateLimited(250))
	err := c.Read(ctxT(t), "g:1", 1)
	if pe := protocol.AsError(err); pe == nil || pe.RetryAfterMs != 250 {
		t.Fatalf("want RATE_LIMITED with retry_after_ms, got %v", err)
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("bad JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
