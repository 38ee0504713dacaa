package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/auth"
	"github.com/chatd/chatd/store"
	"github.com/rs/zerolog"
)

// TestManyClients logs in 2,000 concurrent clients over TCP and has each
// send two messages to its partner (a two-member group per pair), checking
// every reply and that every message reaches the partner exactly once.
func TestManyClients(t *testing.T) {
	const clients = 2000
	// Under -race the embedded SQLite store alone would take minutes (the
	// detector instruments its transpiled C), so the race run uses a small
	// in-memory store and the normal run the real one.
	var st store.Store = newMemStore()
	if !raceEnabled {
		s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st = s
	}
	srv, err := New(Config{ChatAddr: "127.0.0.1:0", Store: st, Argon2: cheapArgon2, Loops: 2, Workers: 128,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	ctx := context.Background()
	hash, err := auth.NewHasher(cheapArgon2.auth(), 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, clients)
	ids := make([]int64, clients)
	for i := range clients {
		names[i] = fmt.Sprintf("load_%d_%d", userSeq.Add(1), i)
		u, err := st.CreateUser(ctx, names[i], names[i], hash, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	groups := make([]int64, clients/2)
	for p := range groups {
		g, err := st.CreateGroup(ctx, "pair", ids[2*p], []int64{ids[2*p+1]}, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		groups[p] = g.ID
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			if err := loadClient(srv.ChatAddr().String(), names[i], groups[i/2], ids[i^1]); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d clients logged in and exchanged %d messages in %v", clients, 2*clients, time.Since(start).Round(time.Millisecond))
	if n := srv.Sessions(); n != 0 {
		// Every client closed its connection: all sessions must go.
		deadline := time.Now().Add(waitTimeout)
		for srv.Sessions() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := srv.Sessions(); n != 0 {
			t.Errorf("%d sessions left after every client closed", n)
		}
	}
}

// loadClient logs in, sends two messages to its group and waits for both
// replies and for the partner's two messages, in seq order without
// duplicates.
func loadClient(addr, name string, group, partner int64) error {
	nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(90 * time.Second))
	rc := rawConn{nc}
	write := func(op protocol.Op, id uint32, v any) error {
		b, err := protocol.AppendJSONFrame(nil, op, id, v)
		if err != nil {
			return err
		}
		_, err = nc.Write(b)
		return err
	}
	if err := write(protocol.OpLogin, 1, &protocol.LoginReq{Username: name, Password: testPassword}); err != nil {
		return err
	}
	replies, pushes := 0, map[string]bool{}
	sent := false
	for replies < 3 || len(pushes) < 2 {
		f, err := rc.readFrame()
		if err != nil {
			return fmt.Errorf("read (replies %d, pushes %d): %w", replies, len(pushes), err)
		}
		if f.reqID != 0 {
			var st protocol.Status
			if err := protocol.Unmarshal(f.body, &st); err != nil || st.Code != protocol.CodeOK {
				return fmt.Errorf("%s reply %s", f.op, f.body)
			}
			replies++
			if f.op == protocol.OpLogin && !sent {
				sent = true
				for k := range 2 {
					if err := write(protocol.OpMsgSend, uint32(2+k), &protocol.MsgSendReq{ToGroup: group,
						Body: fmt.Sprint(name, " says ", k), ClientMsgID: fmt.Sprint(k)}); err != nil {
						return err
					}
				}
			}
			continue
		}
		if f.op != protocol.OpMsgPush {
			continue
		}
		var mp protocol.MsgPush
		if err := protocol.Unmarshal(f.body, &mp); err != nil {
			return err
		}
		if mp.Message.From != partner {
			return fmt.Errorf("push from %d, partner is %d", mp.Message.From, partner)
		}
		if pushes[mp.Message.Body] {
			return errors.New("duplicate push " + mp.Message.Body)
		}
		pushes[mp.Message.Body] = true
	}
	return nil
}
