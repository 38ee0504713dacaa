package main

import (
	"encoding/json"
	"errors"
	"io"
	"regexp"
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
		"user":                  "list, show, disable or enable",
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
