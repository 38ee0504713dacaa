package srvmain

import "testing"

func TestParse(t *testing.T) {
	c, err := Parse("x", []string{"-port", "9100", "-loops", "3", "-mode", "broadcast", "-cpuprofile", "cpu.out"})
	if err != nil {
		t.Fatal(err)
	}
	if c != (Config{Port: 9100, Loops: 3, Mode: ModeBroadcast, CPUProfile: "cpu.out"}) || c.Addr() != "127.0.0.1:9100" {
		t.Fatalf("got %+v %s", c, c.Addr())
	}
	for _, bad := range [][]string{{"-mode", "chat"}, {"-loops", "0"}, {"-port", "70000"}, {"-unknown"}} {
		if _, err := Parse("x", bad); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		}
	}
}
