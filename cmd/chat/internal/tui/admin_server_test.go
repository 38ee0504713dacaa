package tui

import (
	"context"
	"testing"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// TestGroupAdminAndAccountAgainstChatd: group administration and the
// account screens through a real server: /admin, /mute and /notice reach
// the members; /devices lists and signs out another device; /password
// changes the password.
func TestGroupAdminAndAccountAgainstChatd(t *testing.T) {
	addr := startChatd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := sdkUser(t, addr, "alice")
	bob := sdkUser(t, addr, "bob")
	befriendSDK(ctx, t, alice, bob)
	g, err := alice.GroupCreate(ctx, "crew", []int64{bob.UserID()})
	if err != nil {
		t.Fatal(err)
	}
	d := loginTUI(t, addr, "alice") // device "tui"; the SDK alice stays on "default"
	d.run(d.m.open(protocol.GroupConv(g.GroupID)))
	d.keys("tab", "/admin bob", "enter")
	d.waitScreen("role: done for bob in crew")
	for {
		e := waitSDKPush[*protocol.GroupEventPush](t, bob)
		if e.Kind == protocol.GroupRoleChanged {
			if e.Role != protocol.RoleAdmin || e.UserID != bob.UserID() {
				t.Fatalf("event %+v", e)
			}
			break
		}
	}
	d.keys("/notice ship it friday", "enter")
	d.waitScreen("# crew (2 members) · notice: ship it friday")
	d.keys("/settings", "enter")
	d.waitScreen("# crew · settings (you: owner)", "bob (admin)")
	d.keys("down", "m")
	d.waitScreen("bob (admin) muted until")
	d.send(escKey())

	d.keys("tab", "/devices", "enter")
	d.waitScreen("Devices: 2 signed in", "tui (this device)", "default")
	p := d.m.panel.(*devicesPanel)
	for i, s := range p.sessions {
		if s.Device == "default" {
			p.sel = i
		}
	}
	d.keys("r")
	d.waitScreen("signed out device default")
	k := waitSDKPush[*protocol.KickedPush](t, alice)
	if k.Reason != protocol.KickReasonRevoked {
		t.Fatalf("kicked %+v", k)
	}
	d.send(escKey())
	d.keys("tab", "/password", "enter", "password-alice", "enter", "password-new1", "enter", "password-new1", "enter")
	d.waitScreen("password changed")
	c, err := client.Dial(ctx, addr, client.Options{Device: "check", OnPush: func(client.Push) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "alice", "password-new1"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}
