package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatd/chatd/cmd/chatbench/internal/report"
)

// TestChatInProcess runs the chat scenario against an in-process chatd
// for a second and checks that messages flowed and were all accounted for.
func TestChatInProcess(t *testing.T) {
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"chatbench", "--quiet", "--json", jsonPath, "--svg", svgPath,
		"chat", "--pairs", "2", "--duration", "1s", "--inflight", "2"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	a := rep.Accounting
	if a == nil || a.Acked == 0 || a.Delivered != a.Expected || a.Expected != a.Acked || !a.OK() {
		t.Fatalf("accounting = %+v", a)
	}
	if rep.Latency["push"].Count != a.Delivered {
		t.Fatalf("push latency count %d, delivered %d", rep.Latency["push"].Count, a.Delivered)
	}
	if !strings.Contains(stdout.String(), "OK: nothing lost or duplicated") {
		t.Fatalf("table lacks the verdict:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"chatbench", "summary", jsonPath}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "| chat | lost messages | 0 msgs | == 0 | met |") {
		t.Fatalf("summary: exit %d:\n%s", code, stdout.String())
	}
	if svg, err := os.ReadFile(svgPath); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Fatalf("chart missing or empty: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"chatbench"},
		{"chatbench", "nosuch"},
		{"chatbench", "chat", "--nosuchflag"},
		{"chatbench", "chat", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"chatbench", "-h"}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "mixed") {
		t.Errorf("help: exit %d: %s", code, out.String())
	}
}
