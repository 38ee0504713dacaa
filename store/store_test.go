package store_test

import (
	"context"
	"testing"

	"github.com/chatd/chatd/store"
	"github.com/chatd/chatd/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, store.SQLiteTestConfig(t))
	})
}

func TestMySQLConformance(t *testing.T) {
	store.MySQLTestConfig(t) // skips the whole test when MySQL is not configured
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, store.MySQLTestConfig(t))
	})
}

// The fallback a server without Mroonga gets: the same answers.
func TestMySQLConformanceUnindexed(t *testing.T) {
	store.MySQLTestConfig(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, store.MySQLTestConfigNoIndex(t))
	})
}

// Two Store instances on one database stand for two chatd processes.
func TestTwoProcessesSQLite(t *testing.T) {
	cfg := store.SQLiteTestConfig(t)
	storetest.Concurrent(t, mustOpen(t, cfg), mustOpen(t, cfg))
}

func TestTwoProcessesMySQL(t *testing.T) {
	cfg := store.MySQLTestConfig(t)
	storetest.Concurrent(t, mustOpen(t, cfg), mustOpen(t, cfg))
}

// Parallel group-commit workers in each of two processes.
func TestTwoProcessesParallelCommittersMySQL(t *testing.T) {
	cfg := store.MySQLTestConfig(t)
	cfg.Committers = 4
	storetest.Concurrent(t, mustOpen(t, cfg), mustOpen(t, cfg))
}

func mustOpen(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
