package protocol

import (
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDocsHexMatchesVectors keeps the byte-level examples of
// docs/protocol.md honest: every example block that starts with a quoted
// vector name must show that vector's leading bytes and, when it states a
// size, the frame's size.
func TestDocsHexMatchesVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]byte{}
	for _, v := range buildVectors(t) {
		b, _ := hex.DecodeString(v.Hex)
		byName[v.Name] = b
	}
	head := regexp.MustCompile(`^"([^"]+)"\s*(?:\((\d+) bytes\))?(.*)$`)
	hexTok := regexp.MustCompile(`^[0-9a-f]{2}$`)
	lines := strings.Split(string(doc), "\n")
	checked := 0
	for i, line := range lines {
		m := head.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		frame, ok := byName[m[1]]
		if !ok {
			continue // a line of JSON that happens to start with a string
		}
		if m[2] != "" {
			if n, _ := strconv.Atoi(m[2]); n != len(frame) {
				t.Errorf("docs line %d: %q is %d bytes, docs say %s", i+1, m[1], len(frame), m[2])
			}
		}
		// Collect the leading hex bytes of the block's lines (the rest of
		// the first line, then each following line until a blank one).
		block := []string{m[3]}
		for j := i + 1; j < len(lines) && strings.TrimSpace(lines[j]) != "" && !head.MatchString(lines[j]); j++ {
			block = append(block, lines[j])
		}
		var shown []byte
		for _, l := range block {
			for _, tok := range strings.Fields(l) {
				if tok == "|" {
					continue
				}
				if !hexTok.MatchString(tok) {
					break
				}
				b, _ := hex.DecodeString(tok)
				shown = append(shown, b...)
			}
		}
		if len(shown) < HeaderSize {
			t.Errorf("docs line %d: %q shows only %d bytes", i+1, m[1], len(shown))
			continue
		}
		if len(shown) > len(frame) || string(shown) != string(frame[:len(shown)]) {
			t.Errorf("docs line %d: %q shows % x, frame starts % x", i+1, m[1], shown, frame[:min(len(shown), len(frame))])
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("only %d examples found in the docs", checked)
	}
}
