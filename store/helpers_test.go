package store

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// sqliteConfig returns a config for a fresh SQLite database in a temp dir.
func sqliteConfig(t testing.TB) Config {
	return Config{Driver: "sqlite", DataDir: t.TempDir()}
}

// mysqlConfig returns a config for a fresh MySQL database, created with a
// random name for this test and dropped after it, so runs never see each
// other's rows. It skips when CHATD_TEST_MYSQL_DSN is unset, except in CI.
func mysqlConfig(t testing.TB) Config {
	t.Helper()
	dsn := os.Getenv("CHATD_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CHATD_TEST_MYSQL_DSN is unset in CI; MySQL tests must run there")
		}
		t.Skip("CHATD_TEST_MYSQL_DSN unset: skipping MySQL tests (e.g. root:@tcp(127.0.0.1:3306)/test?charset=utf8mb4&collation=utf8mb4_unicode_ci&clientFoundRows=true&interpolateParams=true)")
	}
	return Config{Driver: "mysql", DSN: freshMySQLDB(t, dsn)}
}

func freshMySQLDB(t testing.TB, dsn string) string {
	t.Helper()
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("CHATD_TEST_MYSQL_DSN: %v", err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "chatd_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", dsn)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	mc.DBName = name
	return mc.FormatDSN()
}
