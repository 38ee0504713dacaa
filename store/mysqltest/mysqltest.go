// Package mysqltest gives tests their own MySQL or MariaDB database.
//
// Tests that need MySQL call DSN: it reads CHATD_TEST_MYSQL_DSN, creates a
// database with a random name for the calling test, drops it when the test
// ends, and returns a DSN naming it, so runs never see each other's rows.
// Without the variable the test is skipped with a message saying how to set
// it, except under CI=true, where a missing database is a failure: CI must
// run the MySQL tests.
package mysqltest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// EnvDSN is the environment variable naming the server tests may use.
const EnvDSN = "CHATD_TEST_MYSQL_DSN"

// ExampleDSN is a DSN for the local MariaDB that behaves the same on MySQL.
const ExampleDSN = "root:@tcp(127.0.0.1:3306)/test?charset=utf8mb4&collation=utf8mb4_unicode_ci&clientFoundRows=true&interpolateParams=true"

// DSN returns a DSN for a fresh database that lives as long as tb. prefix
// names the caller in the database name (chatd_<prefix>_<random>), which
// helps find a database left behind by a test binary that was killed.
func DSN(tb testing.TB, prefix string) string {
	tb.Helper()
	base := Require(tb)
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvDSN, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "chatd_" + prefix + "_" + hex.EncodeToString(rnd[:])
	if err := exec(base, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec(base, "DROP DATABASE IF EXISTS "+name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// Require returns the server DSN from CHATD_TEST_MYSQL_DSN. Without it, it
// skips tb with a message saying how to set it, or fails tb when CI=true.
// Suites call it once before running many tests that each take a DSN.
func Require(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is unset in CI; the MySQL tests must run there", EnvDSN)
		}
		tb.Skipf("%s unset: skipping MySQL tests (e.g. %s=%q)", EnvDSN, EnvDSN, ExampleDSN)
	}
	return base
}

// exec runs one administrative statement on its own short-lived pool.
func exec(dsn, stmt string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}
