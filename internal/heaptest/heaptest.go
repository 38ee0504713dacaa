// Package heaptest is for tests that bound the live heap a server keeps per
// connection or session. It measures the test process's live heap, and it
// runs the other ends of the connections in a child process (the same test
// binary, running one test), so that only the server's side is counted.
package heaptest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"testing"
)

// Skip skips a bound test in -short runs (what says what it would open,
// "1,000 sessions") and under the race detector, which changes what the
// heap holds.
func Skip(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("opens " + what)
	}
	if raceEnabled {
		tb.Skip("the race detector changes what the heap holds")
	}
}

// Bound logs per, the live heap bytes per unit ("idle connection"), and
// fails the test if it is above max.
func Bound(tb testing.TB, per float64, max int, unit string) {
	tb.Helper()
	tb.Logf("%.0f B of live heap per %s", per, unit)
	if per > float64(max) {
		tb.Fatalf("%.0f B of live heap per %s, want at most %d", per, unit, max)
	}
}

// Live returns the bytes of live heap after three collections (the later
// ones free what finalizers of the first let go).
func Live() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Child starts this test binary running only the test named test, with env
// (KEY=value) added to its environment, and returns once the child has
// printed "ready" (Hold). stop closes the child's stdin, which lets Hold
// return, and waits for the child to exit; Cleanup also calls it.
func Child(tb testing.TB, test string, env ...string) (stop func()) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			stdin.Close()
			cmd.Wait()
		}
	}
	tb.Cleanup(stop)
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			tb.Fatalf("%s: %v before it was ready", test, err)
		}
		if line == "ready\n" {
			return stop
		}
	}
}

// Hold is the child's side of Child: it says "ready" and returns once the
// parent closes stdin.
func Hold() {
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
}

// WriteProfile writes a heap profile to the file the environment variable
// envVar names, if it is set: where the bytes are (run the test with
// -memprofilerate 1 to see every allocation).
func WriteProfile(tb testing.TB, envVar string) {
	tb.Helper()
	name := os.Getenv(envVar)
	if name == "" {
		return
	}
	f, err := os.Create(name)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tb.Errorf("heap profile: %v", err)
	}
}
