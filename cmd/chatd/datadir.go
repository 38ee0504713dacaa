package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// lockFileName is the file in the data directory a running chatd holds a
// lock on for its whole life.
const lockFileName = "chatd.lock"

// dataDirUse says what the data directory holds, for error messages: even on
// MySQL it keeps uploaded files and the file token key.
const dataDirUse = "it holds uploaded files and the file token key (and the embedded store unless --mysql-dsn is set)"

// claimDataDir makes sure dir exists and is writable, then takes an
// exclusive lock on dir/chatd.lock, so a second chatd on the same directory
// fails at start instead of sharing its files. The returned release drops
// the lock; it is held until then (or until the process exits).
func claimDataDir(dir string) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: cannot create it: %w; %s: create it writable for chatd's user or choose another --data-dir", dir, err, dataDirUse)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err == nil {
		name := probe.Name()
		err = errors.Join(probe.Close(), os.Remove(name))
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the probe's random name would only be noise
	}
	if err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w; %s: give chatd's user write access or choose another --data-dir", dir, err, dataDirUse)
	}
	path := filepath.Join(dir, lockFileName)
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR))
	locked, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("data dir %s: lock %s: %w", dir, path, err)
	}
	if !locked {
		holder := ""
		if pid, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(pid))) > 0 {
			holder = " (pid " + strings.TrimSpace(string(pid)) + ")"
		}
		return nil, fmt.Errorf("data dir %s is in use by another chatd%s: it holds the lock on %s; stop that one or choose another --data-dir", dir, holder, path)
	}
	// The pid is a hint for the message above; the lock itself is what counts.
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("data dir %s: write %s: %w", dir, path, err)
	}
	return fl.Unlock, nil
}
