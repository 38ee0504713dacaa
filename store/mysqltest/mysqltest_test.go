package mysqltest

import (
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestDSNNamesAFreshDatabaseDroppedAfterTheTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn := DSN(t, "selftest")
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = cfg.DBName
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("fresh database %s has %d tables", name, tables)
		}
	})
	if name == "" {
		t.Skip("inner test skipped: no MySQL")
	}
	db, err := sql.Open("mysql", Require(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

// With CHATD_TEST_MYSQL_DSN unset, the MySQL tests still run when a server
// answers at the local address (make test on a machine set up like CI), and
// are skipped only when none does.
func TestLocalServerIsUsedWhenTheVariableIsUnset(t *testing.T) {
	t.Setenv(EnvDSN, "")
	t.Setenv("CI", "")
	conn, err := net.DialTimeout("tcp", localAddr, 2*time.Second)
	listening := err == nil
	if listening {
		conn.Close()
	}
	ran := false
	t.Run("inner", func(t *testing.T) {
		DSN(t, "local")
		ran = true
	})
	if listening && !ran {
		t.Fatalf("MySQL tests skipped although a server listens at %s", localAddr)
	}
	if !listening && ran {
		t.Fatalf("MySQL tests ran with no server at %s", localAddr)
	}
}
