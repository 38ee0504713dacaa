package reactor_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEExample keeps the echo server shown in the project README
// identical to Example_echo, so the README never shows code that does not
// compile or pass.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	const from = "// echo writes"
	i := strings.Index(string(example), from)
	if i < 0 {
		t.Fatalf("example_test.go lost its %q comment", from)
	}
	want := strings.TrimSpace(string(example[i:]))
	if !strings.Contains(string(readme), "```go\n"+want+"\n```") {
		t.Errorf("README.md's reactor example differs from example_test.go; copy it from %q to the end of the file", from)
	}
}
