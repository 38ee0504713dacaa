package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// nextPush reads frames until a push of op arrives and returns its body.
func (c *conn) nextPush(op protocol.Op) []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		h, b, err := protocol.ReadFrame(c.r, 1<<20, nil)
		if err != nil {
			c.t.Fatalf("waiting for push %v: %v", op, err)
		}
		if h.ReqID == 0 && h.Op == op {
			return b
		}
	}
}

// chatd user disable, run offline while chatd serves: the live session is
// kicked at once (through the admin listener), the password is refused
// with FORBIDDEN and the old token with BAD_CREDENTIALS; enable undoes it.
func TestUserDisableKicksAndRefusesLogin(t *testing.T) {
	dir := t.TempDir()
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": dir})
	env := map[string]string{"CHATD_DATA_DIR": dir, "CHATD_ADMIN_ADDR": d.at.Admin.String()}
	const pw = "correct horse"
	login := func(req *protocol.LoginReq) (*conn, string, string) {
		c := dialChat(t, d.at.Chat)
		body := c.call(protocol.OpLogin, req)
		var resp struct{ Token string }
		json.Unmarshal(body, &resp)
		return c, code(t, body), resp.Token
	}
	live := dialChat(t, d.at.Chat)
	if got := code(t, live.call(protocol.OpRegister, &protocol.RegisterReq{Username: "mallory", Password: pw})); got != "OK" {
		t.Fatalf("register: %s", got)
	}
	live.call(protocol.OpRegister, &protocol.RegisterReq{Username: "bystander", Password: pw})
	body := live.call(protocol.OpLogin, &protocol.LoginReq{Username: "mallory", Password: pw, Device: "phone"})
	var resp struct{ Token string }
	if err := json.Unmarshal(body, &resp); err != nil || code(t, body) != "OK" {
		t.Fatalf("login: %s", body)
	}

	printed, err := runCmd(t, env, "user", "disable", "mallory")
	if err != nil || !strings.Contains(printed, "kicked 1 live session") {
		t.Fatalf("user disable: %q, %v", printed, err)
	}
	var kicked protocol.KickedPush
	if err := json.Unmarshal(live.nextPush(protocol.OpKicked), &kicked); err != nil || kicked.Reason != protocol.KickReasonRevoked {
		t.Fatalf("kicked push %+v, %v; want reason %q", kicked, err, protocol.KickReasonRevoked)
	}
	if _, err := live.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("kicked connection still open: %v", err)
	}
	if _, got, _ := login(&protocol.LoginReq{Username: "mallory", Password: pw}); got != "FORBIDDEN" {
		t.Errorf("password login of a disabled account: %s, want FORBIDDEN", got)
	}
	if _, got, _ := login(&protocol.LoginReq{Username: "mallory", Password: "wrong password"}); got != "BAD_CREDENTIALS" {
		t.Errorf("wrong password on a disabled account: %s, want BAD_CREDENTIALS (nothing revealed)", got)
	}
	if _, got, _ := login(&protocol.LoginReq{Username: "mallory", Token: resp.Token, Device: "phone"}); got != "BAD_CREDENTIALS" {
		t.Errorf("old token of a disabled account: %s, want BAD_CREDENTIALS (revoked)", got)
	}

	printed, err = runCmd(t, env, "user", "list", "--limit", "5")
	if err != nil || !regexpLine(printed, `mallory\s+mallory\s+\S+\s+disabled`) || !regexpLine(printed, `bystander\s+bystander\s+\S+\s+active`) {
		t.Fatalf("user list: %q, %v", printed, err)
	}
	if printed, err = runCmd(t, env, "user", "show", "1"); err != nil || !strings.Contains(printed, "mallory") || strings.Contains(printed, "argon2") {
		t.Fatalf("user show 1: %q, %v", printed, err)
	}
	if _, err := runCmd(t, env, "user", "enable", "mallory"); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := login(&protocol.LoginReq{Username: "mallory", Password: pw}); got != "OK" {
		t.Errorf("login after enable: %s", got)
	}
}

func regexpLine(s, re string) bool {
	for _, line := range strings.Split(s, "\n") {
		if regexp.MustCompile(re).MatchString(line) {
			return true
		}
	}
	return false
}

func TestUserCommandErrors(t *testing.T) {
	env := map[string]string{"CHATD_DATA_DIR": t.TempDir()}
	for args, want := range map[string]string{
		"user":                  "list, show, disable, enable, reset-password or delete",
		"user delete nobody_x":  "add --yes to confirm",
		"user reset-password":   "one username or user id",
		"user frobnicate x":     `unknown user command "frobnicate"`,
		"user show":             "one username or user id",
		"user list extra":       "takes no arguments",
		"user disable nobody_x": `no user "nobody_x"`,
	} {
		_, err := runCmd(t, env, strings.Fields(args)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("chatd %s: %v, want %q", args, err, want)
		}
	}
}

// runCmdIn is runCmd with stdin.
func runCmdIn(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	full := map[string]string{"CHATD_LOG_LEVEL": "disabled"}
	for k, v := range env {
		full[k] = v
	}
	re, stdout, _ := testEnv(full)
	re.Stdin = strings.NewReader(stdin)
	err := run(context.Background(), args, re)
	return stdout.String(), err
}

// chatd user reset-password, run offline while chatd serves: registration's
// rules apply, the live session is kicked (revoked), the old password and
// token stop working, the new password (read or generated) works.
func TestUserResetPasswordRevokesAndKicks(t *testing.T) {
	dir := t.TempDir()
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": dir})
	env := map[string]string{"CHATD_DATA_DIR": dir, "CHATD_ADMIN_ADDR": d.at.Admin.String()}
	const pw = "correct horse"
	login := func(req *protocol.LoginReq) string {
		return code(t, dialChat(t, d.at.Chat).call(protocol.OpLogin, req))
	}
	live := dialChat(t, d.at.Chat)
	live.call(protocol.OpRegister, &protocol.RegisterReq{Username: "forgetful", Password: pw})
	body := live.call(protocol.OpLogin, &protocol.LoginReq{Username: "forgetful", Password: pw, Device: "phone"})
	var resp struct{ Token string }
	if err := json.Unmarshal(body, &resp); err != nil || code(t, body) != "OK" {
		t.Fatalf("login: %s", body)
	}

	if _, err := runCmdIn(t, env, "short\n", "user", "reset-password", "forgetful"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "8 to 128 bytes") {
		t.Fatalf("a password registration refuses: %v", err)
	}
	if _, err := runCmdIn(t, env, "", "user", "reset-password", "forgetful"); err == nil || !strings.Contains(err.Error(), "no password on stdin") {
		t.Fatalf("empty stdin: %v", err)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Password: pw}); got != "OK" {
		t.Fatalf("a refused reset changed the password: login %s", got)
	}
	const newPW = "battery staple"
	printed, err := runCmdIn(t, env, newPW+"\r\n", "user", "reset-password", "forgetful")
	if err != nil || !strings.Contains(printed, "every token revoked") || !strings.Contains(printed, "kicked 2 live session") || strings.Contains(printed, newPW) {
		t.Fatalf("user reset-password: %q, %v", printed, err)
	}
	var kicked protocol.KickedPush
	if err := json.Unmarshal(live.nextPush(protocol.OpKicked), &kicked); err != nil || kicked.Reason != protocol.KickReasonRevoked {
		t.Fatalf("kicked push %+v, %v; want reason %q", kicked, err, protocol.KickReasonRevoked)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Token: resp.Token, Device: "phone"}); got != "BAD_CREDENTIALS" {
		t.Errorf("old token after reset: %s, want BAD_CREDENTIALS", got)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Password: pw}); got != "BAD_CREDENTIALS" {
		t.Errorf("old password after reset: %s, want BAD_CREDENTIALS", got)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Password: newPW}); got != "OK" {
		t.Errorf("new password: %s", got)
	}

	printed, err = runCmdIn(t, env, "", "user", "reset-password", "--generate", "forgetful")
	m := regexp.MustCompile(`new password of forgetful \(shown once\): (\S+)\n`).FindStringSubmatch(printed)
	if err != nil || m == nil {
		t.Fatalf("user reset-password --generate: %q, %v", printed, err)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Password: m[1]}); got != "OK" {
		t.Errorf("generated password: %s", got)
	}
	if got := login(&protocol.LoginReq{Username: "forgetful", Password: newPW}); got != "BAD_CREDENTIALS" {
		t.Errorf("the password before --generate: %s, want BAD_CREDENTIALS", got)
	}
}

// chatd user delete, run offline while chatd serves, has account.delete's
// effects: the live session is kicked (account_deleted), the friend is told
// friend.removed and the owned group's member group.event dismissed, the
// account cannot log in and its name stays taken.
func TestUserDeleteHasAccountDeleteEffects(t *testing.T) {
	dir := t.TempDir()
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": dir})
	env := map[string]string{"CHATD_DATA_DIR": dir, "CHATD_ADMIN_ADDR": d.at.Admin.String()}
	const pw = "correct horse"
	ids := map[string]int64{}
	conns := map[string]*conn{}
	for _, name := range []string{"doomed", "pal"} {
		c := dialChat(t, d.at.Chat)
		var r protocol.RegisterResp
		if err := json.Unmarshal(c.call(protocol.OpRegister, &protocol.RegisterReq{Username: name, Password: pw}), &r); err != nil || r.UserID == 0 {
			t.Fatalf("register %s: %+v, %v", name, r, err)
		}
		if got := code(t, c.call(protocol.OpLogin, &protocol.LoginReq{Username: name, Password: pw})); got != "OK" {
			t.Fatalf("login %s: %s", name, got)
		}
		ids[name], conns[name] = r.UserID, c
	}
	doomed, pal := conns["doomed"], conns["pal"]
	var fr protocol.FriendRequestResp
	json.Unmarshal(doomed.call(protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: ids["pal"]}), &fr)
	if got := code(t, pal.call(protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: fr.RequestID, Accept: true})); got != "OK" {
		t.Fatalf("friend respond: %s", got)
	}
	var g protocol.GroupResp
	json.Unmarshal(doomed.call(protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "club", Members: []int64{ids["pal"]}}), &g)
	if g.Group.GroupID == 0 {
		t.Fatal("group.create failed")
	}
	pal.call(protocol.OpPing, struct{}{}) // the pushes so far are read and dropped

	if _, err := runCmd(t, env, "user", "delete", "doomed"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("user delete without --yes: %v", err)
	}
	if got := code(t, doomed.call(protocol.OpPing, struct{}{})); got != "OK" {
		t.Fatalf("unconfirmed delete touched the session: %s", got)
	}
	printed, err := runCmd(t, env, "user", "delete", "--yes", "doomed")
	if err != nil || !strings.Contains(printed, "1 friendship(s) ended, 1 owned group(s) dismissed, 0 group(s) left") ||
		!strings.Contains(printed, "kicked 1 live session") {
		t.Fatalf("user delete --yes: %q, %v", printed, err)
	}
	var kicked protocol.KickedPush
	if err := json.Unmarshal(doomed.nextPush(protocol.OpKicked), &kicked); err != nil || kicked.Reason != protocol.KickReasonAccountDeleted {
		t.Fatalf("kicked push %+v, %v; want reason %q", kicked, err, protocol.KickReasonAccountDeleted)
	}
	var removed protocol.FriendRemovedPush
	if err := json.Unmarshal(pal.nextPush(protocol.OpFriendRemoved), &removed); err != nil || removed.UserID != ids["doomed"] {
		t.Fatalf("friend.removed %+v, %v", removed, err)
	}
	var ev protocol.GroupEventPush
	if err := json.Unmarshal(pal.nextPush(protocol.OpGroupEvent), &ev); err != nil || ev.Kind != protocol.GroupDismissed || ev.GroupID != g.Group.GroupID {
		t.Fatalf("group.event %+v, %v; want dismissed", ev, err)
	}
	c := dialChat(t, d.at.Chat)
	if got := code(t, c.call(protocol.OpLogin, &protocol.LoginReq{Username: "doomed", Password: pw})); got != "BAD_CREDENTIALS" {
		t.Errorf("login of a deleted account: %s", got)
	}
	if got := code(t, c.call(protocol.OpRegister, &protocol.RegisterReq{Username: "doomed", Password: pw})); got != "USERNAME_TAKEN" {
		t.Errorf("register a deleted name: %s", got)
	}
	id := strconv.FormatInt(ids["doomed"], 10)
	if printed, err := runCmd(t, env, "user", "show", id); err != nil || !regexpLine(printed, `doomed\s+deleted user\s+\S+\s+deleted`) {
		t.Fatalf("user show of the deleted account: %q, %v", printed, err)
	}
	if _, err := runCmd(t, env, "user", "delete", "--yes", id); err == nil || !strings.Contains(err.Error(), "is deleted") {
		t.Fatalf("deleting twice: %v", err)
	}
}
