package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPutGetForgetAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chatd", "tokens.json")
	s := Open(path)
	if _, ok, err := s.Get("a:9000"); err != nil || ok {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if err := s.Put("a:9000", Session{Username: "alice", Token: "t1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("b:9000", Session{Username: "bob", Token: "t2"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get("a:9000")
	if err != nil || !ok || got.Username != "alice" || got.Token != "t1" {
		t.Fatalf("get: %+v %v %v", got, ok, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	if err := s.Forget("a:9000"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := Open(path).Get("a:9000"); ok {
		t.Fatal("forgotten session still there")
	}
	if got, ok, _ := Open(path).Get("b:9000"); !ok || got.Token != "t2" {
		t.Fatal("other server's session lost")
	}
}

func TestDefaultUsesUserConfigDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "chatd", "tokens.json"); s.Path() != want {
		t.Fatalf("path %s, want %s", s.Path(), want)
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(path).Get("x"); err == nil {
		t.Fatal("corrupt file accepted")
	}
}
