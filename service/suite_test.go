package service

import "testing"

// scenario is one end-to-end test that runs against every store backend.
type scenario struct {
	name string
	fn   func(t *testing.T, b backend)
}

// scenarios is filled by the *_test.go files of each area.
var scenarios []scenario

func register(name string, fn func(t *testing.T, b backend)) bool {
	scenarios = append(scenarios, scenario{name, fn})
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
