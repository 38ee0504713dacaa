package store

import (
	"context"
	"database/sql"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store/mysqltest"
	"github.com/go-sql-driver/mysql"
)

// The msg.search benchmark: one user in 200 conversations over 1,000,000
// stored messages (2,000 group conversations of 500 messages each, sent in
// an interleaved order; half English-like text, half Chinese), queried by
// Latin words, Chinese substrings of three or more characters (the trigram
// index on SQLite) and of two characters (the scan); on MySQL/MariaDB the
// Mroonga index when the server has it (mroonga.go; a data set loaded
// without it is indexed as an existing database is, waited for before
// measuring). Building the data set takes minutes, so it is kept: SQLite in $CHATD_SEARCH_BENCH_DIR (default
// a directory under the system temp dir), MySQL in a database of
// $CHATD_TEST_MYSQL_DSN's server (both named searchBenchName). Run with
//
//	go test ./store -run '^$' -bench BenchmarkSearch -benchtime 400x -timeout 60m
//
// and read p50_ms and p99_ms.
const (
	searchConvs    = 2000
	searchPerConv  = 500
	searchUserConv = 200 // the searcher's share: every 10th conversation
	searchUser     = 1
	// searchBenchName names the kept data set; change it with the data.
	searchBenchName = "chatd_searchbench_v3"
)

func BenchmarkSearch(b *testing.B) {
	for _, backend := range []string{"sqlite", "mysql"} {
		b.Run(backend, func(b *testing.B) {
			s, bodies := searchDataset(b, backend)
			defer s.Close()
			rng := rand.New(rand.NewSource(7))
			queries := map[string]func() string{
				"latin-word": func() string {
					for {
						w := strings.Fields(bodies[rng.Intn(len(bodies))])
						if len(w) == 0 || w[0][0] >= utf8.RuneSelf {
							continue
						}
						if x := w[rng.Intn(len(w))]; len(x) >= 3 {
							return x
						}
					}
				},
				"latin-2words": func() string {
					for {
						w := strings.Fields(bodies[rng.Intn(len(bodies))])
						if len(w) > 2 && w[0][0] < utf8.RuneSelf {
							i := rng.Intn(len(w) - 1)
							return w[i] + " " + w[i+1]
						}
					}
				},
				"chinese-3": func() string { return chineseSub(rng, bodies, 3) },
				"chinese-2": func() string { return chineseSub(rng, bodies, 2) },
				"chinese-1": func() string { return chineseSub(rng, bodies, 1) },
			}
			names := make([]string, 0, len(queries))
			for n := range queries {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				next := queries[name]
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					h := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
					found := 0
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						q := next()
						start := time.Now()
						ms, _, err := s.SearchMessages(ctx, SearchQuery{User: searchUser, Query: q})
						if err != nil {
							b.Fatal(err)
						}
						h.RecordValue(time.Since(start).Microseconds())
						found += len(ms)
					}
					b.ReportMetric(float64(h.ValueAtQuantile(50))/1000, "p50_ms")
					b.ReportMetric(float64(h.ValueAtQuantile(99))/1000, "p99_ms")
					b.ReportMetric(float64(found)/float64(b.N), "hits/query")
				})
			}
		})
	}
}

// chineseSub returns n consecutive characters of a Chinese message.
func chineseSub(rng *rand.Rand, bodies []string, n int) string {
	for {
		r := []rune(bodies[rng.Intn(len(bodies))])
		if len(r) >= n && r[0] >= 0x4E00 {
			i := rng.Intn(len(r) - n + 1)
			return string(r[i : i+n])
		}
	}
}

// searchBodies makes the message bodies, deterministically: sentences over
// a 20,000-word vocabulary of words spelled with English letter
// frequencies, and Chinese ones over 3,000 characters, words and
// characters both drawn with a Zipf law as natural text is. (A first
// version spelled words from 20 syllables: only about 400 distinct Latin
// trigrams, each in a large share of the messages, which no real language
// has; it is the worst case of a trigram index.)
func searchBodies() []string {
	rng := rand.New(rand.NewSource(1))
	const letters = "eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummwwffggyyppbbvkjxqz"
	vocab := make([]string, 20000)
	for i := range vocab {
		w := make([]byte, 2+rng.Intn(4)+rng.Intn(5))
		for k := range w {
			w[k] = letters[rng.Intn(len(letters))]
		}
		vocab[i] = string(w)
		if rng.Intn(8) == 0 { // some capitalised, for case folding
			vocab[i] = strings.ToUpper(vocab[i][:1]) + vocab[i][1:]
		}
	}
	words := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	chars := rand.NewZipf(rng, 1.05, 4, 2999)
	out := make([]string, searchConvs*searchPerConv)
	for i := range out {
		var b strings.Builder
		if i%2 == 0 {
			for k := 4 + rng.Intn(10); k > 0; k-- {
				b.WriteString(vocab[words.Uint64()])
				b.WriteByte(' ')
			}
			out[i] = strings.TrimSpace(b.String())
		} else {
			for k := 6 + rng.Intn(20); k > 0; k-- {
				b.WriteRune(rune(0x4E00 + chars.Uint64()*7))
			}
			out[i] = b.String()
		}
	}
	return out
}

// searchDataset opens the benchmark's store, building the data set when
// the kept one is missing or incomplete.
func searchDataset(b *testing.B, backend string) (*sqlStore, []string) {
	ctx := context.Background()
	var cfg Config
	if backend == "sqlite" {
		dir := os.Getenv("CHATD_SEARCH_BENCH_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), searchBenchName)
		}
		cfg = Config{Driver: "sqlite", DataDir: dir, SQLiteSynchronous: "NORMAL"}
	} else {
		mc, err := mysql.ParseDSN(mysqltest.Require(b))
		if err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("mysql", mc.FormatDSN())
		if err != nil {
			b.Fatal(err)
		}
		_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+searchBenchName+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
		mc.DBName = searchBenchName
		cfg = Config{Driver: "mysql", DSN: mc.FormatDSN()}
	}
	s, err := open(ctx, cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	bodies := searchBodies()
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != len(bodies) {
		if n != 0 {
			b.Fatalf("%s search data set holds %d messages, want 0 or %d: remove it", backend, n, len(bodies))
		}
		start := time.Now()
		loadSearchDataset(b, s, bodies)
		b.Logf("%s: built %d messages in %v", backend, len(bodies), time.Since(start).Round(time.Second))
		if backend == "mysql" {
			// The rows went in behind the store's back: index them as
			// the migration of an existing database does.
			if _, err := s.w.ExecContext(ctx, `DELETE FROM search_index_state`); err != nil {
				b.Fatal(err)
			}
			s.Close()
			if s, err = open(ctx, cfg, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	if s.search.on.Load() {
		waitIndexed(b, s)
	}
	return s, bodies
}

// waitIndexed waits until the MySQL search index has no pending ranges,
// so the benchmark measures the index, not the scan of pending messages.
func waitIndexed(b *testing.B, s *sqlStore) {
	start := time.Now()
	for {
		var n int
		if err := s.w.QueryRow(`SELECT COUNT(*) FROM search_pending`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if d := time.Since(start); d > time.Second {
		b.Logf("mysql: Mroonga indexing finished after %v", d.Round(time.Second))
	}
}

// loadSearchDataset inserts the rows directly, in large transactions, and
// indexes them as a store opened behind its messages does.
func loadSearchDataset(b *testing.B, s *sqlStore, bodies []string) {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	run := func(q string, args ...any) {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", firstLine(q), err)
		}
	}
	var args []any
	for c := 1; c <= searchConvs; c++ {
		args = append(args, protocol.GroupConv(int64(c)), searchPerConv, 1)
	}
	run(`INSERT INTO conversations (id, last_seq, last_ts) VALUES `+placeholderRows(3, searchConvs), args...)
	args = args[:0]
	for c := 1; c <= searchConvs; c += searchConvs / searchUserConv {
		args = append(args, searchUser, protocol.GroupConv(int64(c)))
	}
	run(`INSERT INTO conv_members (user_id, conv) VALUES `+placeholderRows(2, len(args)/2), args...)
	// Message i goes to a random conversation that still has room, so
	// conversations interleave in msg id order as in real traffic.
	rng := rand.New(rand.NewSource(2))
	seq := make([]int64, searchConvs+1)
	open := make([]int, 0, searchConvs)
	for c := 1; c <= searchConvs; c++ {
		open = append(open, c)
	}
	const rowsPer = 500
	args = args[:0]
	for i, body := range bodies {
		k := rng.Intn(len(open))
		c := open[k]
		seq[c]++
		if seq[c] == searchPerConv {
			open[k] = open[len(open)-1]
			open = open[:len(open)-1]
		}
		m := Message{ID: int64(i + 1), Conv: protocol.GroupConv(int64(c)), Seq: seq[c], From: int64(2 + c), TS: int64(i), Type: TypeText, Body: body}
		args = appendMsgArgs(args, &m)
		if len(args) == rowsPer*msgColCount || i == len(bodies)-1 {
			run(insertMessages(len(args)/msgColCount), args...)
			args = args[:0]
		}
		if (i+1)%50000 == 0 {
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if tx, err = s.w.BeginTx(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if s.fts != nil {
		if err := s.fts.catchUp(0, int64(len(bodies))); err != nil {
			b.Fatal(err)
		}
	}
	run2 := func(q string) {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	run2(`UPDATE id_counters SET next_id = ` + strconv.Itoa(len(bodies)+1) + ` WHERE name = 'msg'`)
	if s.d == sqliteDialect {
		run2(`ANALYZE`)
	} else {
		run2(`ANALYZE TABLE messages, conv_members, conversations`)
	}
}
