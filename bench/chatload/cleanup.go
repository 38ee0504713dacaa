package chatload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// CleanupResult is what Cleanup did with the accounts file.
type CleanupResult struct {
	// Deleted counts the accounts deleted with account.delete.
	Deleted int
	// Absent counts the recorded names no account answered to (never
	// registered, as when a run was cut short, or deleted already).
	Absent int
	// Kept counts the accounts that could not be deleted this time (the
	// server did not answer, refused, or rate-limited the logins): they
	// stay in the file for another cleanup.
	Kept int
	// Err is the first reason an account was kept.
	Err error
}

// cleanupConc is how many accounts are deleted at once: each costs the
// server two password hashes (login, account.delete), which it runs at
// most GOMAXPROCS at a time, so more would only queue.
var cleanupConc = 2 * runtime.GOMAXPROCS(0)

// Cleanup deletes the accounts the accounts file at path records, over
// the protocol as their owner would: it logs each one in with the run's
// password and sends account.delete, so the server applies every effect
// of a deletion. Each record's server is its Addr, or e.Addr when set (the
// same chatd reached another way); e's transport and source address are
// used. The file is removed once nothing is left in it, else rewritten to
// hold only the kept accounts. A missing file deletes nothing.
func (e *Env) Cleanup(ctx context.Context, path string) (CleanupResult, error) {
	var res CleanupResult
	recs, err := ReadAccounts(path)
	if err != nil || len(recs) == 0 {
		return res, err
	}
	var mu sync.Mutex
	kept := make([]AccountRecord, len(recs))
	for ri, rec := range recs {
		kept[ri] = rec
		kept[ri].Users = nil
		addr := rec.Addr
		if e.Addr != "" {
			addr = e.Addr
		}
		password := runPassword(rec.Run)
		err := parallel(ctx, len(rec.Users), cleanupConc, func(ctx context.Context, i int) error {
			name := rec.Users[i]
			deleted, err := e.deleteAccount(ctx, addr, name, password)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.Kept++
				if res.Err == nil {
					res.Err = err
				}
				kept[ri].Users = append(kept[ri].Users, name)
			case deleted:
				res.Deleted++
			default:
				res.Absent++
			}
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	if err := rewriteAccounts(path, kept); err != nil {
		return res, err
	}
	e.Log.Info().Int("deleted", res.Deleted).Int("absent", res.Absent).Int("kept", res.Kept).Str("file", path).Msg("accounts cleaned up")
	return res, nil
}

// deleteAccount logs name in on addr and deletes it. It reports false,
// without an error, when the server knows no such account (BAD_CREDENTIALS
// for a name that never registered or was deleted).
func (e *Env) deleteAccount(ctx context.Context, addr, name, password string) (bool, error) {
	opts := e.clientOptions(func(client.Push) {})
	opts.Device = "chatbench-cleanup"
	c, err := client.Dial(ctx, addr, opts)
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, name, password); err != nil {
		if protocol.CodeOf(err) == protocol.CodeBadCredentials {
			return false, nil
		}
		return false, fmt.Errorf("login %s: %w", name, err)
	}
	if err := c.DeleteAccount(ctx, password); err != nil {
		return false, fmt.Errorf("delete %s: %w", name, err)
	}
	return true, nil
}

// rewriteAccounts replaces the accounts file with the records that still
// name accounts, or removes it when none does. The new content is written
// beside it and renamed over it, so a crash leaves one or the other.
func rewriteAccounts(path string, recs []AccountRecord) error {
	var data []byte
	for _, r := range recs {
		if len(r.Users) == 0 {
			continue
		}
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode account record: %w", err)
		}
		data = append(append(data, line...), '\n')
	}
	if len(data) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite %s: %w", path, err)
	}
	return nil
}
