package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NodeIDFile is the file in a data directory that keeps a generated node id.
const NodeIDFile = "node-id"

// LoadOrCreateNodeID returns the node id kept in dir/node-id, generating
// and writing one the first time, so a node keeps its id across restarts
// (and on restart removes what its previous run left in the directory).
func LoadOrCreateNodeID(dir string) (string, error) {
	path := filepath.Join(dir, NodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !ValidNodeID(id) {
			return "", fmt.Errorf("cluster: %s holds %q, not a node id; fix or delete it", path, id)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cluster: read node id: %w", err)
	}
	id := NewNodeID()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cluster: keep node id in %s: %w", path, err)
	}
	return id, nil
}
