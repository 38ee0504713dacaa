package protocol

// Filled-in sample bodies for every op, shared by the round-trip tests, the
// fuzz seed corpora and the golden vectors.

func strp(s string) *string { return &s }

var (
	alice = Profile{UserID: 1001, Username: "alice", Nickname: "Alice", Signature: "hi there", AvatarSha256: ""}
	bob   = Profile{UserID: 1002, Username: "bob_42", Nickname: "鲍勃", Signature: "", AvatarSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	msg1  = Message{MsgID: 5001, Conv: "p:1001:1002", Seq: 1, From: 1001, Ts: 1763769600000, Type: MsgText, Body: "hello, bob", ClientMsgID: "c-0001"}
	msg2  = Message{MsgID: 5002, Conv: "g:77", Seq: 9, From: 1002, Ts: 1763769601000, Type: MsgFile, Body: "31", ClientMsgID: ""}
	msg3  = Message{MsgID: 5003, Conv: "g:77", Seq: 10, From: 1001, Ts: 1763769602000, Type: MsgText, Body: "@鲍勃 你好", ClientMsgID: "c-0003", Mentions: []int64{1002}, ReplyTo: 9}
	grp   = Group{GroupID: 77, Name: "team \"blue\"", Owner: 1001, MemberCount: 3}
	freq  = FriendReq{RequestID: 42, From: alice, To: bob, Note: "it's alice", Ts: 1763769500000}
)

// sample holds one op's request, success reply and push bodies (nil when
// the op has none).
type sample struct {
	req   Request
	reply Body
	push  Body
}

func samples() map[Op]sample {
	return map[Op]sample{
		OpPing:          {req: &PingReq{}, reply: &PingResp{Status: OK(), Ts: 1763769600123}},
		OpRegister:      {req: &RegisterReq{Username: "alice", Password: "correct horse", Nickname: "Alice"}, reply: &RegisterResp{Status: OK(), UserID: 1001}},
		OpLogin:         {req: &LoginReq{Username: "alice", Token: "tok_3q2+7w==", Device: "laptop"}, reply: &LoginResp{Status: OK(), UserID: 1001, Token: "tok_3q2+7w==", Profile: alice, Friends: []Friend{{Profile: bob, Online: true}}, Groups: []Group{grp}, Convs: []ConvInfo{{Conv: "p:1001:1002", LastSeq: 3, AckSeq: 1, ReadSeq: 1, Last: &msg1}, {Conv: "g:77", LastSeq: 0}}}},
		OpLogout:        {req: &LogoutReq{}, reply: &Status{Code: CodeOK}},
		OpProfileGet:    {req: &ProfileGetReq{UserID: 1002}, reply: &ProfileGetResp{Status: OK(), Profile: bob, Avatar: "iVBORw0KGgo="}},
		OpProfileUpdate: {req: &ProfileUpdateReq{Nickname: strp("Al"), Signature: strp("")}, reply: &ProfileUpdateResp{Status: OK(), Profile: alice}},
		OpUserSearch:    {req: &UserSearchReq{Query: "bo"}, reply: &UserSearchResp{Status: OK(), Users: []Profile{bob}}},
		OpFriendRequest: {req: &FriendRequestReq{UserID: 1002, Note: "it's alice"}, reply: &FriendRequestResp{Status: OK(), RequestID: 42}},
		OpFriendRespond: {req: &FriendRespondReq{RequestID: 42, Accept: true}, reply: &Status{Code: CodeOK}},
		OpFriendRemove:  {req: &FriendRemoveReq{UserID: 1002}, reply: &Status{Code: CodeOK}},
		OpFriendList:    {req: &FriendListReq{}, reply: &FriendListResp{Status: OK(), Friends: []Friend{{Profile: bob}}}},
		OpFriendPending: {req: &FriendPendingReq{}, reply: &FriendPendingResp{Status: OK(), Incoming: []FriendReq{freq}, Outgoing: []FriendReq{}}},
		OpMsgSend:       {req: &MsgSendReq{ToUser: 1002, Body: "hello, bob", ClientMsgID: "c-0001"}, reply: &MsgSendResp{Status: OK(), MsgID: 5001, Conv: "p:1001:1002", Seq: 1, Ts: 1763769600000}},
		OpMsgSync:       {req: &MsgSyncReq{Conv: "g:77", AfterSeq: 8, Limit: 2}, reply: &MsgSyncResp{Status: OK(), Messages: []Message{msg2}, More: false}},
		OpMsgAck:        {req: &MsgAckReq{Conv: "p:1001:1002", Seq: 1}, reply: &Status{Code: CodeOK}},
		OpMsgRead:       {req: &MsgReadReq{Conv: "p:1001:1002", Seq: 1}, reply: &Status{Code: CodeOK}},
		OpConvList:      {req: &ConvListReq{}, reply: &ConvListResp{Status: OK(), Convs: []ConvInfo{{Conv: "g:77", LastSeq: 9, AckSeq: 9, ReadSeq: 8, Last: &msg2}}}},
		OpGroupCreate:   {req: &GroupCreateReq{Name: "team \"blue\"", Members: []int64{1002, 1003}}, reply: &GroupResp{Status: OK(), Group: grp}},
		OpGroupJoin:     {req: &GroupIDReq{GroupID: 77}, reply: &GroupResp{Status: OK(), Group: grp}},
		OpGroupLeave:    {req: &GroupIDReq{GroupID: 77}, reply: &Status{Code: CodeOK}},
		OpGroupKick:     {req: &GroupKickReq{GroupID: 77, UserID: 1003}, reply: &Status{Code: CodeOK}},
		OpGroupMembers:  {req: &GroupIDReq{GroupID: 77}, reply: &GroupMembersResp{Status: OK(), Members: []GroupMember{{Friend: Friend{Profile: alice, Online: true}, Role: RoleOwner}, {Friend: Friend{Profile: bob}, Role: RoleMember, MutedUntil: 1763773200000}}}},
		OpGroupList:     {req: &GroupListReq{}, reply: &GroupListResp{Status: OK(), Groups: []Group{grp}}},
		OpGroupDismiss:  {req: &GroupIDReq{GroupID: 77}, reply: &Status{Code: CodeOK}},
		OpFileOffer:     {req: &FileOfferReq{ToGroup: 77, Name: "report.pdf", Size: 123456, Sha256: bob.AvatarSha256}, reply: &FileOfferResp{Status: OK(), FileID: 31, UploadToken: "up.31.sig", FileAddr: "127.0.0.1:9001"}},
		OpFileFetch:     {req: &FileFetchReq{FileID: 31}, reply: &FileFetchResp{Status: OK(), DownloadToken: "down.31.sig", FileAddr: "127.0.0.1:9001", Size: 123456, Sha256: bob.AvatarSha256}},
		OpFileUpload:    {req: &FileUploadReq{UploadToken: "up.31.sig", Offset: 0}, reply: &FileUploadResp{Status: OK(), Offset: 65536}},
		OpFileDownload:  {req: &FileDownloadReq{DownloadToken: "down.31.sig", Offset: 1000}, reply: &FileDownloadResp{Status: OK(), Size: 123456}},
		OpRoomCreate:    {req: &RoomCreateReq{Name: "standup"}, reply: &RoomCreateResp{Status: OK(), RoomID: 9}},
		OpRoomJoin:      {req: &RoomIDReq{RoomID: 9}, reply: &RoomJoinResp{Status: OK(), Members: []Profile{alice, bob}}},
		OpRoomLeave:     {req: &RoomIDReq{RoomID: 9}, reply: &Status{Code: CodeOK}},
		OpRoomSay:       {req: &RoomSayReq{RoomID: 9, Body: "can you hear me?"}, reply: &Status{Code: CodeOK}},
		OpRoomMedia:     {},

		OpAccountPassword: {req: &AccountPasswordReq{OldPassword: "correct horse", NewPassword: "battery staple"}, reply: &AccountPasswordResp{Status: OK(), Token: "tok_9x8+1Q=="}},
		OpAccountSessions: {req: &AccountSessionsReq{}, reply: &AccountSessionsResp{Status: OK(), Sessions: []SessionInfo{{Device: "laptop", Addr: "192.0.2.7:50412", Since: 1763769500000, Current: true}, {Device: "phone", Addr: "[2001:db8::1]:41000", Since: 1763769000000}}}},
		OpAccountRevoke:   {req: &AccountRevokeReq{Device: "phone"}, reply: &Status{Code: CodeOK}},
		OpAccountDelete:   {req: &AccountDeleteReq{Password: "correct horse"}, reply: &Status{Code: CodeOK}},
		OpMsgRecall:       {req: &MsgRecallReq{Conv: "g:77", Seq: 9}, reply: &MsgRecallResp{Status: OK(), Seq: 10}},
		OpMsgTyping:       {req: &MsgTypingReq{Conv: "p:1001:1002"}, reply: &Status{Code: CodeOK}},
		OpMsgSearch:       {req: &MsgSearchReq{Query: "你好", Conv: "g:77", BeforeMsgID: 6000, Limit: 10}, reply: &MsgSearchResp{Status: OK(), Messages: []Message{msg3}, More: true}},
		OpGroupUpdate:     {req: &GroupUpdateReq{GroupID: 77, Notice: strp("standup at 10")}, reply: &GroupResp{Status: OK(), Group: grp}},
		OpGroupSetRole:    {req: &GroupSetRoleReq{GroupID: 77, UserID: 1002, Role: RoleAdmin}, reply: &Status{Code: CodeOK}},
		OpGroupMute:       {req: &GroupMuteReq{GroupID: 77, UserID: 1003, Until: 1763773200000}, reply: &Status{Code: CodeOK}},
		OpGroupTransfer:   {req: &GroupTransferReq{GroupID: 77, UserID: 1002}, reply: &Status{Code: CodeOK}},
		OpRoomMembers:     {req: &RoomMembersReq{RoomID: 9, AfterUserID: 1001, Limit: 2}, reply: &RoomMembersResp{Status: OK(), Members: []Profile{bob}, More: true}},

		OpKicked:          {push: &KickedPush{Reason: KickReasonLoginElsewhere, Addr: "192.0.2.7:50412"}},
		OpPresence:        {push: &PresencePush{UserID: 1002, Online: true}},
		OpProfileChanged:  {push: &ProfileChangedPush{Profile: bob}},
		OpFriendRequested: {push: &FriendRequestedPush{RequestID: 42, From: alice, Note: "it's alice"}},
		OpFriendResponded: {push: &FriendRespondedPush{RequestID: 42, By: bob, Accepted: true}},
		OpFriendRemoved:   {push: &FriendRemovedPush{UserID: 1001}},
		OpMsgPush:         {push: &MsgPush{Message: msg1}},
		OpReadReceipt:     {push: &ReadReceiptPush{Conv: "p:1001:1002", UserID: 1002, Seq: 1}},
		OpTyping:          {push: &TypingPush{Conv: "p:1001:1002", UserID: 1002}},
		OpGroupEvent:      {push: &GroupEventPush{GroupID: 77, Kind: GroupJoined, UserID: 1003}},
		OpFileOffered:     {push: &FileOfferedPush{FileID: 31, From: alice, Name: "report.pdf", Size: 123456, Sha256: bob.AvatarSha256}},
		OpFileReady:       {push: &FileReadyPush{FileID: 31}},
		OpRoomEvent:       {push: &RoomEventPush{RoomID: 9, Kind: RoomJoined, UserID: 1002}},
		OpRoomSaid:        {push: &RoomSaidPush{RoomID: 9, From: 1001, Body: "can you hear me?", Ts: 1763769602000}},
		OpRoomMediaPush:   {},
	}
}
