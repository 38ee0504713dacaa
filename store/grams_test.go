package store

import (
	"context"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// Every substring of a body, in any letter case, has its query grams
// among the body's grams: the index never loses a match.
func TestQueryGramsInBodyGrams(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("abcABCÄäßẞ北京北 ,\x00")
	for n := 0; n < 2000; n++ {
		body := make([]rune, 1+rng.Intn(12))
		for i := range body {
			body[i] = alphabet[rng.Intn(len(alphabet))]
		}
		i := rng.Intn(len(body))
		j := i + 1 + rng.Intn(len(body)-i)
		sub := string(body[i:j])
		if rng.Intn(2) == 0 {
			sub = strings.ToUpper(sub)
		}
		bg := bodyGrams(string(body))
		for _, g := range queryGrams(sub) {
			if _, ok := slices.BinarySearch(bg, g); !ok {
				t.Fatalf("query %q: gram %x not among the grams of %q", sub, g, string(body))
			}
		}
	}
}

func TestPackGram(t *testing.T) {
	gs := []int64{packGram('a'), packGram('a', 'b'), packGram('a', 'b', 'c'), packGram('a', 0), packGram(0),
		packGram('b'), packGram(0x10FFFF, 0x10FFFF, 0x10FFFF)}
	seen := map[int64]bool{}
	for _, g := range gs {
		if g <= 0 || seen[g] {
			t.Fatalf("packed grams %x: %x not positive or repeated", gs, g)
		}
		seen[g] = true
	}
	var long []rune
	for i := 0; i < 40; i++ {
		long = append(long, rune(0x4E00+i))
	}
	if got := queryGrams(string(long)); len(got) != maxEstimatedGrams || got[0] != packGram(long[:3]...) || got[len(got)-1] != packGram(long[37:]...) {
		t.Fatalf("long query grams %x", got)
	}
	if got := queryGrams("aaaa"); len(got) != 1 {
		t.Fatalf("repeated trigram looked up %d times", len(got))
	}
}

// A recall takes the message's rows out of the MySQL gram index; an
// append of a text message puts them in, and of another type does not.
func TestRecallDropsGramsMySQL(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, mysqlConfig(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO conversations (id) VALUES ('g:1')`); err != nil {
		t.Fatal(err)
	}
	count := func(id int64) int {
		t.Helper()
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_grams WHERE msg_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	m, _, err := s.AppendMessage(ctx, NewMessage{Conv: "g:1", From: 1, Type: TypeText, Body: "Hello 北京"})
	if err != nil {
		t.Fatal(err)
	}
	if n, want := count(m.ID), len(bodyGrams("Hello 北京")); n != want {
		t.Fatalf("%d gram rows for a text message, want %d", n, want)
	}
	f, _, err := s.AppendMessage(ctx, NewMessage{Conv: "g:1", From: 1, Type: TypeFile, Body: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(f.ID); n != 0 {
		t.Fatalf("%d gram rows for a file message", n)
	}
	g1, _ := protocol.NewGroupConv(1)
	if _, err := s.RecallMessage(ctx, g1, m.Seq, 1, 5); err != nil {
		t.Fatal(err)
	}
	if n := count(m.ID); n != 0 {
		t.Fatalf("%d gram rows left after the recall", n)
	}
}
