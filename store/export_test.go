package store

import "testing"

// Test helpers shared with the external store_test package.
var (
	SQLiteTestConfig = sqliteConfig
	MySQLTestConfig  = mysqlConfig
)

// MySQLTestConfigNoIndex is MySQLTestConfig with the Mroonga search index
// ignored: the store searches by scanning, as on a server without it.
func MySQLTestConfigNoIndex(t testing.TB) Config {
	cfg := mysqlConfig(t)
	cfg.noSearchIndex = true
	return cfg
}
