package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// newLogger returns the process logger writing to w: human-readable console
// lines for "console" (or "auto" when w is a terminal), JSON lines
// otherwise.
// Loops, workers and listeners log concurrently, so writes are serialised:
// one event is one whole line whatever w is.
func newLogger(w io.Writer, level zerolog.Level, format string) zerolog.Logger {
	if format == "console" || (format == "auto" && isTerminal(w)) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(zerolog.SyncWriter(w)).Level(level).With().Timestamp().Logger()
}

// isTerminal reports whether w is a terminal (so a person reads it).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}
