// Package mysqltest gives tests their own MySQL or MariaDB database.
//
// Tests that need MySQL call DSN: it creates a database with a random name
// for the calling test, drops it when the test ends, and returns a DSN
// naming it, so runs never see each other's rows. The server is the one
// CHATD_TEST_MYSQL_DSN names or, when that is unset, the local MariaDB at
// 127.0.0.1:3306 (root, empty password) if it answers, so `make test` on a
// machine set up as CI runs the MySQL tests too. With neither the tests are
// skipped and one line on stderr says so and how to run them, except under
// CI=true, where a missing database is a failure: CI must run them.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

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

// Require returns the server DSN: CHATD_TEST_MYSQL_DSN, else the local
// server if it answers. Without either, it skips tb (failing it when
// CI=true). Suites call it once before running many tests that each take a
// DSN.
func Require(tb testing.TB) string {
	tb.Helper()
	if base := os.Getenv(EnvDSN); base != "" {
		return base
	}
	base, err := local()
	if err == nil {
		return base
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is unset in CI and no MySQL answers at %s (%v); the MySQL tests must run there", EnvDSN, localAddr, err)
	}
	tb.Skipf("no MySQL: %s unset and %s does not answer (%v)", EnvDSN, localAddr, err)
	return ""
}

// localAddr is where the local server is looked for.
const localAddr = "127.0.0.1:3306"

// local probes the server ExampleDSN names, once per test binary, and
// says on stderr what the MySQL tests will do: a skip hidden in `go test`'s
// quiet output would look like a pass.
var local = sync.OnceValues(func() (string, error) {
	cfg, err := mysql.ParseDSN(ExampleDSN)
	if err != nil {
		return "", err
	}
	cfg.DBName = "" // DSN creates its own databases; "test" need not exist
	cfg.Timeout = 2 * time.Second
	dsn := cfg.FormatDSN()
	err = ping(dsn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mysqltest: MySQL tests SKIPPED: %s is unset and no MySQL answers at %s (%v); start MariaDB there or set %s=%q\n", EnvDSN, localAddr, err, EnvDSN, ExampleDSN)
		return "", err
	}
	fmt.Fprintf(os.Stderr, "mysqltest: %s unset; MySQL tests use the server at %s\n", EnvDSN, localAddr)
	return dsn, nil
})

// ping connects to dsn once.
func ping(dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
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
