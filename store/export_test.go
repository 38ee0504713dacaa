package store

// Test helpers shared with the external store_test package.
var (
	SQLiteTestConfig = sqliteConfig
	MySQLTestConfig  = mysqlConfig
)
