package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	line := []byte("1234 (we ird) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 100 1000000 200 18446744073709551615")
	got, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 325 * ClockTick; got != want {
		t.Fatalf("cpu = %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("no paren")); err == nil {
		t.Fatal("accepted a line without ')'")
	}
}

func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the tick-granular counter moves.
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for after := before; after == before; after, _ = CPU(pid) {
		for i := 0; i < 1e6; i++ {
			x += i
		}
		if time.Now().After(deadline) {
			t.Fatal("CPU time did not advance after 5 s of spinning")
		}
	}
	_ = x
	rss, err := RSS(pid)
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS = %d, %v; want at least 1 MiB", rss, err)
	}
	w0, err := WriteSyscalls(pid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 10; i++ {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if w1, _ := WriteSyscalls(pid); w1-w0 < 10 {
		t.Fatalf("syscw moved %d after 10 writes", w1-w0)
	}
}
