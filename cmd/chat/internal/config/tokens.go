package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Session is what is remembered for one server.
type Session struct {
	Username string `json:"username"`
	Token    string `json:"token"`
}

// Store reads and writes the remembered sessions in one file.
type Store struct {
	path string
	mu   sync.Mutex
}

// Default returns the store in os.UserConfigDir()/chatd/tokens.json.
func Default() (*Store, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("config: locating the config directory: %w", err)
	}
	return Open(filepath.Join(dir, "chatd", "tokens.json")), nil
}

// Open returns a store backed by the file at path (created on first Save).
func Open(path string) *Store { return &Store{path: path} }

// Path returns the file the store uses.
func (s *Store) Path() string { return s.path }

func (s *Store) load() (map[string]Session, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Session{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", s.path, err)
	}
	m := map[string]Session{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config: parsing %s: %w", s.path, err)
	}
	return m, nil
}

func (s *Store) save(m map[string]Session) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("config: creating %s: %w", filepath.Dir(s.path), err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("config: encoding sessions: %w", err)
	}
	// Write a private temporary file and rename it, so a crash never
	// leaves a truncated file and the token is never world-readable.
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("config: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Get returns the session remembered for server, if any.
func (s *Store) Get(server string) (Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return Session{}, false, err
	}
	sess, ok := m[server]
	return sess, ok && sess.Token != "", nil
}

// Put remembers a session for server.
func (s *Store) Put(server string, sess Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	m[server] = sess
	return s.save(m)
}

// Forget removes the session of server (log out).
func (s *Store) Forget(server string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[server]; !ok {
		return nil
	}
	delete(m, server)
	return s.save(m)
}
