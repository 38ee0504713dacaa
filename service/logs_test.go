package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/files"
)

// decodeLogLine decodes one JSON log line, failing on a repeated key (which
// encoding/json would silently collapse).
func decodeLogLine(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, errors.New("duplicate key " + key)
		}
		out[key] = v
	}
	return out, nil
}

// A short session at info level (register, a failed login, logins by
// password and by token, a kick, a message flood, logout, a forged file
// token) logs only JSON objects without repeated keys, never the password
// or a token, and says who did what from where.
func TestSessionLogsAreCleanJSONWithoutSecrets(t *testing.T) {
	var logs syncWriter
	e, fs := newFileEnv(t, sqliteBackend, func(c *Config) {
		c.Logger = zerolog.New(&logs).With().Timestamp().Logger()
		c.MsgRate, c.MsgBurst = 0.01, 1
	})
	name := uniqueName("lg")
	e.register(name)
	bad := e.dial()
	bad.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: "not-the-password"}, nil)
	first, _ := e.login(name, "phone")
	second, _ := e.login(name, "phone") // the same device: first is kicked
	first.waitFor(protocol.OpKicked, nil)
	byToken := e.dial()
	byToken.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: second.token, Device: "tablet"}, nil)
	send := &protocol.MsgSendReq{ToUser: second.userID, Body: "m", ClientMsgID: "m1"}
	_, ch := second.send(protocol.OpMsgSend, send)
	second.wait(protocol.OpMsgSend, ch)
	second.must(protocol.CodeRateLimited, protocol.OpMsgSend, send, nil)
	second.must(protocol.CodeRateLimited, protocol.OpMsgSend, send, nil) // the same flood: no second line
	second.must(protocol.CodeOK, protocol.OpLogout, &protocol.LogoutReq{}, nil)
	if _, err := files.Download(context.Background(), fs.Addr().String(), "forged-download-token", 0, io.Discard); err == nil {
		t.Fatal("download with a forged token succeeded")
	}

	secrets := []string{testPassword, "not-the-password", second.token, "forged-download-token"}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		rec, err := decodeLogLine(line)
		if err != nil {
			t.Errorf("log line %s: %v", line, err)
			continue
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line holds a password or token: %s", line)
			}
		}
		for _, k := range []string{"password", "token"} {
			if _, ok := rec[k]; ok {
				t.Errorf("log line has a %q field: %s", k, line)
			}
		}
		msg, _ := rec["message"].(string)
		seen[msg]++
		who := map[string]bool{}
		for _, k := range []string{"user", "username", "device", "remote"} {
			_, who[k] = rec[k]
		}
		switch msg {
		case "registered", "login failed", "login rate limited: too many failures":
			if !who["remote"] || !who["username"] {
				t.Errorf("%q lacks the username or the address: %s", msg, line)
			}
		case "logged in", "logged out", "kicked: logged in elsewhere", "rate limited: messages":
			if !who["user"] || !who["device"] || !who["remote"] {
				t.Errorf("%q lacks the user, the device or the address: %s", msg, line)
			}
		case "download refused: bad token":
			if rec["component"] != "files" {
				t.Errorf("file port line with component %v: %s", rec["component"], line)
			}
		}
	}
	for msg, want := range map[string]int{"registered": 1, "login failed": 1, "logged in": 3,
		"kicked: logged in elsewhere": 1, "rate limited: messages": 1, "logged out": 1, "download refused: bad token": 1} {
		if seen[msg] != want {
			t.Errorf("%d %q lines, want %d", seen[msg], msg, want)
		}
	}
}
