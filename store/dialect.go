package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
)

// dialect holds every difference between the two SQL backends, so the rest
// of the package is one shared implementation.
type dialect struct {
	name string
	// forUpdate is appended to locking reads: MySQL needs row locks so that
	// several processes serialise per conversation; SQLite has a single
	// writer (BEGIN IMMEDIATE) and no such clause.
	forUpdate string
	// insertIgnore starts an INSERT that skips rows whose key exists.
	insertIgnore string
	// ddl fills the type placeholders of the migration statements.
	ddl *strings.Replacer
	// max and min are the two-argument maximum and minimum functions.
	max, min string
}

var mysqlDialect = &dialect{
	name:         "mysql",
	forUpdate:    " FOR UPDATE",
	insertIgnore: "INSERT IGNORE",
	max:          "GREATEST",
	min:          "LEAST",
	ddl: strings.NewReplacer(
		"{{ID}}", "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
		"{{IDPK}}", "BIGINT NOT NULL PRIMARY KEY",
		"{{BLOB}}", "MEDIUMBLOB",
		"{{TEXT}}", "MEDIUMTEXT",
		// Conversation ids and idempotency keys compare byte-wise.
		"{{CONV}}", "VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin",
		"{{BINSTR}}", "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"{{TBL}}", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
	),
}

var sqliteDialect = &dialect{
	name:         "sqlite",
	forUpdate:    "",
	insertIgnore: "INSERT OR IGNORE",
	max:          "MAX",
	min:          "MIN",
	ddl: strings.NewReplacer(
		"{{ID}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{IDPK}}", "INTEGER PRIMARY KEY",
		"{{BLOB}}", "BLOB",
		"{{TEXT}}", "TEXT",
		"{{CONV}}", "VARCHAR(64)",
		"{{BINSTR}}", "VARCHAR(64)",
		"{{TBL}}", "",
	),
}

// upsert returns the clause that turns an INSERT into an upsert on the
// conflict columns; set maps a column to an expression in which NEW(col)
// stands for the value the INSERT proposed.
func (d *dialect) upsert(conflict string, set ...string) string {
	var b strings.Builder
	if d == mysqlDialect {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
	} else {
		b.WriteString(" ON CONFLICT(" + conflict + ") DO UPDATE SET ")
	}
	for i, s := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		if d == mysqlDialect {
			s = strings.ReplaceAll(s, "NEW(", "VALUES(")
		} else {
			s = newRef.Replace(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

var newRef = strings.NewReplacer("NEW(ack_seq)", "excluded.ack_seq", "NEW(last_seq)", "excluded.last_seq", "NEW(last_ts)", "excluded.last_ts")

// prefixCond returns a condition matching rows whose column col starts
// with prefix, in a form each backend answers from an index on col.
func (d *dialect) prefixCond(col, prefix string) (string, []any) {
	if d == mysqlDialect {
		esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(prefix)
		return col + " LIKE ? ESCAPE '!'", []any{esc + "%"}
	}
	// SQLite's LIKE only uses an index under special settings; a byte range
	// does (text compares byte-wise under the BINARY collation).
	if hi, ok := prefixEnd(prefix); ok {
		return col + " >= ? AND " + col + " < ?", []any{prefix, hi}
	}
	return col + " >= ?", []any{prefix}
}

// containsFold returns a condition matching rows whose text column col
// contains sub, ignoring letter case. MySQL lowers both sides (Unicode
// aware) and compares bytes, so accents still count. SQLite's lower() only
// knows ASCII, so for a short sub (the only kind SQLite scans for: longer
// ones go to the trigram index) it looks for each case spelling of sub.
func (d *dialect) containsFold(col, sub string) (string, []any) {
	if d == mysqlDialect {
		return "LOCATE(?, LOWER(" + col + ") COLLATE utf8mb4_bin) > 0", []any{strings.ToLower(sub)}
	}
	vs, ok := caseVariants(sub, 16)
	if !ok { // long and many-lettered: ASCII folding only
		return "instr(lower(" + col + "), ?) > 0", []any{strings.ToLower(sub)}
	}
	conds := make([]string, len(vs))
	args := make([]any, len(vs))
	for i, v := range vs {
		conds[i], args[i] = "instr("+col+", ?) > 0", v
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// prefixEnd returns the least string greater than every string starting
// with prefix (byte-wise), or false when there is none (all 0xFF bytes;
// valid UTF-8 never holds 0xFF).
func prefixEnd(prefix string) (string, bool) {
	hi := []byte(prefix)
	for len(hi) > 0 && hi[len(hi)-1] == 0xFF {
		hi = hi[:len(hi)-1]
	}
	if len(hi) == 0 {
		return "", false
	}
	hi[len(hi)-1]++
	return string(hi), true
}

// isDuplicate reports a unique-key violation.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
		return se.Code() == 2067 || se.Code() == 1555
	}
	return false
}

// isRetryable reports a transient conflict that a retry of the whole
// transaction can resolve: deadlock, lock wait timeout, busy database.
func isRetryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}

// isUnavailable reports a failure to reach or use the database itself, as
// opposed to a problem with one request.
func isUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013:
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6, 10, 13, 14: // BUSY, LOCKED, IOERR, FULL, CANTOPEN
			return true
		}
		return false
	}
	return strings.Contains(err.Error(), "database is closed") ||
		strings.Contains(err.Error(), "connection refused")
}
