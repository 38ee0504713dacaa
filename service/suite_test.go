package service

import (
	"testing"

	"github.com/chatd/chatd/cluster/clustertest"
)

// scenario is one end-to-end test that runs against every store backend.
type scenario struct {
	name string
	fn   func(t *testing.T, b backend)
	// rawOnly marks a scenario about raw framing itself (bytes split or
	// malformed on the wire), which the other transports frame differently.
	rawOnly bool
}

// scenarios is filled by the *_test.go files of each area.
var scenarios []scenario

func register(name string, fn func(t *testing.T, b backend)) bool {
	scenarios = append(scenarios, scenario{name: name, fn: fn})
	return true
}

// registerRaw adds a scenario that only runs on the raw transport.
func registerRaw(name string, fn func(t *testing.T, b backend)) bool {
	scenarios = append(scenarios, scenario{name: name, fn: fn, rawOnly: true})
	return true
}

// TestSQLite runs every scenario on the embedded store.
func TestSQLite(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.fn(t, sqliteBackend) })
	}
}

// TestMySQL runs every scenario on MySQL/MariaDB when CHATD_TEST_MYSQL_DSN
// is set, each test on its own fresh database.
func TestMySQL(t *testing.T) {
	b := mysqlBackend(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.fn(t, b) })
	}
}

// TestClusterSuite runs every scenario on a cluster of two nodes sharing
// one MySQL database and a NATS bus, each client connecting to the nodes
// in turn: the two users of a scenario (and a user's two devices) are on
// different nodes, and every answer and push must be what one node gives.
func TestClusterSuite(t *testing.T) {
	b := mysqlBackend(t)
	url := clustertest.URL(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			b := b
			b.bus = &busSpec{url: url, name: clustertest.Name(t, url), ids: []string{"a", "b"}, spread: true}
			sc.fn(t, b)
		})
	}
}
