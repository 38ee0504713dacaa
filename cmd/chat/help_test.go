package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpExitsZero: --help, -h and "help" print the usage on stdout and
// are not errors (main exits 0), for the command and its subcommands; a
// bad flag still is an error, explained on stderr.
func TestHelpExitsZero(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"send", "--help"}, {"tail", "-h"}} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err != nil {
			t.Fatalf("chat %v: %v", args, err)
		}
		if !strings.Contains(out.String(), "usage:") || !strings.Contains(out.String(), "chat ") {
			t.Fatalf("chat %v printed %q on stdout", args, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"--bogus"}, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "usage:") {
		t.Fatalf("bad flag: %v, stderr %q", err, errOut.String())
	}
}
