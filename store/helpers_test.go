package store

import (
	"testing"

	"github.com/chatd/chatd/store/mysqltest"
)

// sqliteConfig returns a config for a fresh SQLite database in a temp dir.
func sqliteConfig(t testing.TB) Config {
	return Config{Driver: "sqlite", DataDir: t.TempDir()}
}

// mysqlConfig returns a config for a fresh MySQL database of this test
// (see mysqltest.DSN: skipped, saying so, when no MySQL is configured or
// answers locally; required in CI).
func mysqlConfig(t testing.TB) Config {
	t.Helper()
	// A search window of 3 ids and index chunks of 2: the tests'
	// searches take their newest matches from the scan and the rest from
	// the index, a few candidates at a time, and page across.
	return Config{Driver: "mysql", DSN: mysqltest.DSN(t, "store"), searchWindow: 3, searchChunk: 2}
}
