package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// FuzzPrefixEnd checks the SQLite prefix range: s is in [prefix, end)
// exactly when s starts with prefix.
func FuzzPrefixEnd(f *testing.F) {
	for _, seed := range [][2]string{{"car", "carol"}, {"car", "cas"}, {"a\xff", "a\xff\xff"}, {"\xff", "\xff1"}, {"é", "éa"}, {"z", "y"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		if prefix == "" {
			return
		}
		end, ok := prefixEnd(prefix)
		in := s >= prefix && (!ok || s < end)
		if in != strings.HasPrefix(s, prefix) {
			t.Fatalf("prefix %q end %q (%v): %q in range = %v", prefix, end, ok, s, in)
		}
	})
}

// FuzzLikeEscape checks that the MySQL LIKE pattern matches exactly the
// strings starting with the prefix, wildcards in it included.
func FuzzLikeEscape(f *testing.F) {
	for _, seed := range [][2]string{{"100%", "100% x"}, {"100%", "1000"}, {"a_b", "axb"}, {"a!_", "a!_z"}, {"!", "!!"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		if prefix == "" {
			return
		}
		_, args := mysqlDialect.prefixCond("c", prefix)
		pat := args[0].(string)
		if got, want := likeMatch(pat, s), strings.HasPrefix(s, prefix); got != want {
			t.Fatalf("pattern %q on %q: %v, want %v", pat, s, got, want)
		}
	})
}

// likeMatch is a reference LIKE with ESCAPE '!' (byte-wise, case-sensitive).
func likeMatch(pat, s string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if likeMatch(pat[1:], s[i:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && likeMatch(pat[1:], s[1:])
	case '!':
		if len(pat) > 1 {
			return s != "" && s[0] == pat[1] && likeMatch(pat[2:], s[1:])
		}
	}
	return s != "" && s[0] == pat[0] && likeMatch(pat[1:], s[1:])
}

func TestErrorClasses(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		err                        error
		unavailable, retry, dupKey bool
	}{
		{driver.ErrBadConn, true, false, false},
		{mysql.ErrInvalidConn, true, false, false},
		{fmt.Errorf("begin: %w", refused), true, false, false},
		{io.ErrUnexpectedEOF, true, false, false},
		{errors.New("sql: database is closed"), true, false, false},
		{&mysql.MySQLError{Number: 2006, Message: "server has gone away"}, true, false, false},
		{&mysql.MySQLError{Number: 1213, Message: "deadlock"}, true, true, false},
		{&mysql.MySQLError{Number: 1205, Message: "lock wait timeout"}, true, true, false},
		{&mysql.MySQLError{Number: 1062, Message: "duplicate"}, false, false, true},
		{&mysql.MySQLError{Number: 1064, Message: "syntax"}, false, false, false},
		{context.Canceled, false, false, false},
		{ErrNotFound, false, false, false},
	} {
		if got := isUnavailable(tc.err); got != tc.unavailable {
			t.Errorf("isUnavailable(%v) = %v", tc.err, got)
		}
		if got := isRetryable(tc.err); got != tc.retry {
			t.Errorf("isRetryable(%v) = %v", tc.err, got)
		}
		if got := isDuplicate(tc.err); got != tc.dupKey {
			t.Errorf("isDuplicate(%v) = %v", tc.err, got)
		}
		if w := wrapUnavailable(tc.err); errors.Is(w, ErrUnavailable) != tc.unavailable || !errors.Is(w, tc.err) {
			t.Errorf("wrapUnavailable(%v) = %v", tc.err, w)
		}
	}
}
