package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNodeIDIsKeptInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateNodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidNodeID(a) {
		t.Fatalf("generated id %q is not valid", a)
	}
	b, err := LoadOrCreateNodeID(dir)
	if err != nil || b != a {
		t.Fatalf("second load = %q, %v; want %q", b, err, a)
	}
	if err := os.WriteFile(filepath.Join(dir, NodeIDFile), []byte("bad id!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateNodeID(dir); err == nil || !strings.Contains(err.Error(), "not a node id") {
		t.Fatalf("a corrupt file: err = %v", err)
	}
}

func TestValidNodeID(t *testing.T) {
	for id, want := range map[string]bool{"a": true, "node-1_B": true, "": false, "a.b": false, "a b": false, "a*": false, strings.Repeat("x", 65): false} {
		if got := ValidNodeID(id); got != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", id, got, want)
		}
	}
}
