package chatload

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/servicetest"
)

// TestCleanup records the accounts of two runs, registers all but one
// name of the first, and cleans up: every registered account is deleted
// over the protocol (its live session is kicked), the unregistered
// name counts as absent, the run on a server that does not answer is kept
// in the file, and once that one goes too the file is removed.
func TestCleanup(t *testing.T) {
	srv := servicetest.Start(t)
	ctx := context.Background()
	path := t.TempDir() + "/accounts.jsonl"
	e := &Env{RunID: "cbclean", Addr: srv.ChatAddr, Log: zerolog.Nop(), Accounts: &AccountLog{Path: path}}
	us := e.newUsers("c", 3)
	if err := e.registerAll(ctx, us[:2], 2); err != nil {
		t.Fatal(err)
	}
	dead := &Env{RunID: "cbdead", Addr: "127.0.0.1:1", Log: zerolog.Nop(), Accounts: e.Accounts}
	dead.newUsers("c", 1)

	// The first account stays online: the deletion kicks it as
	// account.delete does.
	pushes := make(chan client.Push, 64)
	a, _, err := e.connect(ctx, us[0], "phone", func(p client.Push) { pushes <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	cleaner := &Env{Log: zerolog.Nop()}
	res, err := cleaner.Cleanup(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.Absent != 1 || res.Kept != 1 || res.Err == nil {
		t.Fatalf("cleanup = %+v; want 2 deleted, 1 absent, 1 kept", res)
	}
	for kicked := false; !kicked; {
		select {
		case p := <-pushes:
			k, ok := p.Body.(*protocol.KickedPush)
			kicked = ok && k.Reason == protocol.KickReasonAccountDeleted
		case <-time.After(20 * time.Second):
			t.Fatal("the live session of a cleaned-up account was not kicked (account_deleted)")
		}
	}
	for _, u := range us[:2] {
		c, err := client.Dial(ctx, srv.ChatAddr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, u.Name, u.Password); protocol.CodeOf(err) != protocol.CodeBadCredentials {
			t.Errorf("login of cleaned-up %s: %v, want BAD_CREDENTIALS", u.Name, err)
		}
		c.Close()
	}
	recs, err := ReadAccounts(path)
	if err != nil || len(recs) != 1 || recs[0].Run != "cbdead" || len(recs[0].Users) != 1 {
		t.Fatalf("file after a partial cleanup: %+v, %v; want only the unreachable run", recs, err)
	}

	// The same chatd reached by another address (--addr): now it answers.
	cleaner.Addr = srv.ChatAddr
	if res, err = cleaner.Cleanup(ctx, path); err != nil || res.Absent != 1 || res.Kept != 0 {
		t.Fatalf("second cleanup = %+v, %v", res, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("accounts file still there: %v", err)
	}
	if res, err = cleaner.Cleanup(ctx, path); err != nil || res != (CleanupResult{}) {
		t.Fatalf("cleanup of a missing file = %+v, %v", res, err)
	}
}
