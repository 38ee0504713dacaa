// Command tabulate turns the bench harness's raw measurements (loadgen JSON
// lines and per-run syscall counts) into the tables of bench/RESULTS.md;
// the work is report.WriteComparison, this is its flags.
package main

import (
	"flag"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/report"
)

func main() {
	log := zerolog.New(os.Stderr).With().Timestamp().Str("cmd", "tabulate").Logger()
	results := flag.String("results", "", "loadgen JSON lines")
	syscalls := flag.String("syscalls", "", "label<TAB>count lines (optional)")
	libs := flag.String("libs", "reactor,gnet,netpoll,net", "libraries in table order")
	base := flag.String("base", "gnet", "library the ratios divide by")
	flag.Parse()
	if err := report.WriteComparison(os.Stdout, *results, *syscalls, strings.Split(*libs, ","), *base); err != nil {
		log.Error().Err(err).Msg("tabulate")
		os.Exit(1)
	}
}
