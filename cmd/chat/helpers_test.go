package main

import (
	"bytes"
	"sync"
	"testing"

	"github.com/chatd/chatd/cmd/chat/internal/config"
)

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mustTokens(t *testing.T) *config.Store {
	t.Helper()
	s, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
