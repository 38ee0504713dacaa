package files

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

func TestCleanStaleRemovesOnlyOldIdleParts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	h := newHarness(t, func(c *Config) {
		c.StaleAge = time.Hour
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	data := randBytes(30, 1000)
	old := h.meta.add(1, data)
	fresh := h.meta.add(1, data)
	active := h.meta.add(1, data)
	done := h.upload(t, 1, data)

	// An upload in progress whose part is old: never removed under it.
	c := h.dialRaw(t)
	c.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, active)})
	c.expectCode(protocol.CodeOK)
	c.Write(data[:10])
	waitPart(t, h.s, active, 10)

	for _, id := range []int64{old, fresh} {
		if err := os.WriteFile(h.s.partPath(id), data[:100], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Files that are not partial uploads of ours are left alone.
	stranger := filepath.Join(h.s.dir, "notes.part")
	os.WriteFile(stranger, nil, 0o600)
	ancient := now.Add(-2 * time.Hour)
	for _, p := range []string{h.s.partPath(old), h.s.partPath(active), h.s.finalPath(done), stranger} {
		if err := os.Chtimes(p, ancient, ancient); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(h.s.partPath(fresh), now.Add(-time.Minute), now.Add(-time.Minute))

	n, err := h.s.CleanStale()
	if err != nil || n != 1 {
		t.Fatalf("CleanStale: %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(h.s.partPath(old)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale part kept")
	}
	for _, p := range []string{h.s.partPath(fresh), h.s.partPath(active), h.s.finalPath(done), stranger} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed: %v", filepath.Base(p), err)
		}
	}
	// A resumed upload of a cleaned file starts again from 0 and completes.
	if !h.s.Complete(done) {
		t.Fatal("complete file lost")
	}
	from, err := Upload(t.Context(), h.addr, h.s.UploadToken(1, old), 50, bytes.NewReader(data), int64(len(data)))
	if err != nil || from != 0 {
		t.Fatalf("upload after cleanup: from %d, %v", from, err)
	}
}

func TestCleanerTickerRuns(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.StaleAge = time.Nanosecond
		c.CleanupInterval = 10 * time.Millisecond
	})
	id := h.meta.add(1, []byte("x"))
	if err := os.WriteFile(h.s.partPath(id), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(h.s.partPath(id)); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the cleaner never removed the stale part")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
