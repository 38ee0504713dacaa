package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRunScript checks that the harness parses and still covers the matrix
// issue 2 asks for; running it takes minutes and is left to `make bench`.
func TestRunScript(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "run.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n run.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile("run.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		"set -euo pipefail",
		"trap stop_server EXIT",
		"-mode echo -conns 100 -size 64 ",
		"-mode echo -conns 100 -size 4096 ",
		"-mode echo -conns 1000 -size 64 ",
		"-mode echo -conns 1000 -size 4096 ",
		"IDLE_CONNS=${IDLE_CONNS:-10000}",
		"BC_CONNS=${BC_CONNS:-1000}",
		"BC_SENDERS=${BC_SENDERS:-10}",
		`LIBS=${LIBS:-"reactor gnet netpoll net"}`,
		"timeout 120",
		"RESULTS.md",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("run.sh lacks %q", want)
		}
	}
}

// TestInstrScript checks that bench-instr's script parses and still measures
// the four echo cells by differencing two fixed-count runs under callgrind;
// running it takes minutes and is left to `make bench-instr`.
func TestInstrScript(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "instr.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n instr.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile("instr.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		"set -euo pipefail",
		"trap stop_server EXIT",
		`CELLS=("100 64" "100 4096" "1000 64" "1000 4096")`,
		`LIBS=${LIBS:-"reactor gnet netpoll"}`,
		"valgrind --tool=callgrind",
		"callgrind_control -d",
		"-count",
		"(b - a) / (c * (n2 - n1))",
		"INSTR-RESULTS.md",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("instr.sh lacks %q", want)
		}
	}
}
