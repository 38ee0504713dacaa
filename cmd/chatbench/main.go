package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/chatload"
	"github.com/chatd/chatd/bench/chatload/inproc"
	"github.com/chatd/chatd/bench/report"
)

// Exit codes: 1 when a scenario ran but its verification failed (lost or
// duplicated messages), 2 for usage errors, 3 when it could not run.
const (
	exitFailed = 1
	exitUsage  = 2
	exitError  = 3
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// options are the flags every scenario shares.
type options struct {
	addr      string
	admin     string
	pid       int
	jsonPath  string
	svgPath   string
	workers   int
	sourceIP  string
	transport string
	ca        string
	quiet     bool
	logLevel  string
	timeout   time.Duration
	cpuProf   string
	profSecs  int
	label     string
	selfProf  string
	accounts  string
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "", "chatd chat address host:port, or the chat addresses of several nodes of one cluster comma-separated (users spread over them and fail over when one goes away); empty: start chatd in-process")
	fs.StringVar(&o.admin, "admin", "", "chatd admin base URL for /metrics, e.g. http://127.0.0.1:9090")
	fs.IntVar(&o.pid, "pid", 0, "chatd process id, to read its memory from /proc when there is no --admin")
	fs.StringVar(&o.jsonPath, "json", "", "write the JSON report to this file")
	fs.StringVar(&o.svgPath, "svg", "", "write an SVG chart to this file")
	fs.IntVar(&o.workers, "workers", 0, "worker processes for large connection counts (connect scenario), each on source 127.0.0.(2+i)")
	fs.StringVar(&o.sourceIP, "source-ip", "", "local address to bind client connections to")
	fs.StringVar(&o.transport, "transport", "raw", "how connections reach the chat port: raw, tls, ws or wss (WebSocket at /ws)")
	fs.StringVar(&o.ca, "ca", "", "for tls and wss, trust the certificate in this PEM file (e.g. the one `chatd cert` writes) instead of the system roots")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.StringVar(&o.logLevel, "log-level", "warn", "chatbench and in-process chatd log level")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "hard limit for the whole run")
	fs.StringVar(&o.cpuProf, "cpu-profile", "", "save a CPU profile of chatd (from the admin pprof) taken while chat or group sends")
	fs.IntVar(&o.profSecs, "profile-seconds", 8, "length of that profile")
	fs.StringVar(&o.selfProf, "self-profile", "", "write a CPU profile of chatbench itself (to see what the load generator costs)")
	fs.StringVar(&o.accounts, "accounts", "chatbench-accounts.jsonl", "with --addr, record the accounts the run makes in this file (one JSON line per scenario setup; empty: do not record); cleanup deletes the accounts it records")
	fs.StringVar(&o.label, "label", "", "name the report by this instead of the scenario (two runs of one scenario in a suite)")
}

// dialerAndLog makes what a run and cleanup both need from the flags: the
// dialer of --transport and --ca, and the console logger at --log-level.
func (o *options) dialerAndLog(stderr io.Writer) (*chatload.Dialer, zerolog.Logger, error) {
	dialer, err := chatload.NewDialer(o.transport, o.ca)
	if err != nil {
		return nil, zerolog.Logger{}, fmt.Errorf("--transport: %w", err)
	}
	lvl, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		return nil, zerolog.Logger{}, fmt.Errorf("--log-level: %w", err)
	}
	return dialer, zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger(), nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: chatbench [flags] <scenario> [scenario flags]\n(the shared flags come before the scenario name)\n\nscenarios:\n")
	for _, n := range chatload.Names() {
		s, _ := chatload.Lookup(n)
		fmt.Fprintf(w, "  %-8s %s\n", n, s.Summary())
	}
	fmt.Fprintf(w, "\n'chatbench <scenario> -h' lists a scenario's flags.\n")
	fmt.Fprintf(w, "'chatbench summary REPORT.json...' prints Markdown: the goals table, then each report.\n")
	fmt.Fprintf(w, "'chatbench [--accounts FILE] [--addr ADDR] cleanup' deletes (account.delete) the accounts that runs\n"+
		"  against --addr recorded in FILE, each on the server its record names unless --addr is given,\n"+
		"  and removes the file once they are gone.\n\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == chatload.WorkerCommand {
		if err := chatload.RunWorker(ctx, stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "chatbench worker: %v\n", err)
			return exitError
		}
		return 0
	}
	if len(args) > 1 && args[1] == "summary" {
		return summary(args[2:], stdout, stderr)
	}
	var o options
	global := flag.NewFlagSet("chatbench", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	o.register(global)
	if err := global.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, global)
			return 0
		}
		fmt.Fprintf(stderr, "chatbench: %v\n", err)
		usage(stderr, global)
		return exitUsage
	}
	if global.NArg() == 0 {
		usage(stderr, global)
		return exitUsage
	}
	name := global.Arg(0)
	if name == "cleanup" {
		return cleanup(ctx, o, global.Args()[1:], stdout, stderr)
	}
	sc, ok := chatload.Lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "chatbench: unknown scenario %q (one of %s)\n", name, strings.Join(chatload.Names(), ", "))
		return exitUsage
	}
	fs := flag.NewFlagSet("chatbench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sc.Flags(fs)
	if err := fs.Parse(global.Args()[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chatbench: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}

	dialer, log, err := o.dialerAndLog(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "chatbench: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	self := args[0]
	if exe, err := os.Executable(); err == nil {
		self = exe // args[0] may be a bare name resolved through PATH
	}
	env := &chatload.Env{Addr: o.addr, AdminURL: o.admin, ServerPID: o.pid, Log: log, RunID: runID(),
		Workers: o.workers, Self: self, SourceIP: o.sourceIP, Dialer: dialer, CA: o.ca, CPUProfile: o.cpuProf, ProfileSeconds: o.profSecs}
	if !o.quiet {
		env.Progress = stderr
		env.Terminal = isTerminal(stderr)
	}
	if o.addr != "" && o.accounts != "" {
		env.Accounts = &chatload.AccountLog{Path: o.accounts}
	}
	if o.addr == "" && !chatload.StartsOwnServer(name) {
		srv, err := inproc.Start(ctx, inproc.Options{RealPasswordHash: chatload.NeedsRealPasswordHash(name), Logger: log.Level(max(log.GetLevel(), zerolog.ErrorLevel))})
		if err != nil {
			fmt.Fprintf(stderr, "chatbench: %v\n", err)
			return exitError
		}
		defer func() {
			if err := srv.Close(); err != nil {
				log.Warn().Err(err).Msg("in-process chatd shutdown")
			}
		}()
		env.Addr, env.AdminURL, env.ServerPID, env.InProcess = srv.Addr, srv.AdminURL, os.Getpid(), true
		fmt.Fprintf(stderr, "chatbench: in-process chatd on %s (admin %s, pprof at /debug/pprof/)\n", srv.Addr, srv.AdminURL)
	}

	if o.selfProf != "" {
		f, err := os.Create(o.selfProf)
		if err != nil {
			fmt.Fprintf(stderr, "chatbench: %v\n", err)
			return exitError
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "chatbench: self profile: %v\n", err)
			return exitError
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := sc.Run(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "chatbench %s: %v\n", name, err)
		return exitError
	}
	if o.label != "" {
		rep.Scenario = o.label
	}
	if n := env.Accounts.Recorded(); n > 0 {
		rep.Note("the %d accounts this run made on %s (names %s_*) are recorded in %s", n, env.Addr, env.RunID, o.accounts)
	}
	if env.InProcess {
		if env.Workers > 0 && name == "connect" {
			rep.Note("chatd ran inside chatbench; the connections were held by worker processes, so its memory readings are chatd's plus chatbench's bookkeeping")
		} else {
			rep.Note("chatd ran inside chatbench: server memory and CPU readings include chatbench's own clients")
		}
	}
	return output(rep, o, stdout, stderr)
}

func output(rep *report.Report, o options, stdout, stderr io.Writer) int {
	code := 0
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "chatbench: %v\n", err)
		code = exitError
	}
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			fmt.Fprintf(stderr, "chatbench: %v\n", err)
			code = exitError
		}
	}
	if o.svgPath != "" {
		if err := rep.WriteSVG(o.svgPath); err != nil {
			fmt.Fprintf(stderr, "chatbench: %v\n", err)
			code = exitError
		}
	}
	if code == 0 && !rep.OK() {
		code = exitFailed
	}
	return code
}

// cleanup runs `chatbench cleanup`: it deletes the accounts the --accounts
// file records and says how many.
func cleanup(ctx context.Context, o options, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "chatbench cleanup: unexpected arguments %q (its flags, --accounts and --addr, come before cleanup)\n", args)
		return exitUsage
	}
	if o.accounts == "" {
		fmt.Fprintln(stderr, "chatbench cleanup: --accounts is empty: no file to read")
		return exitUsage
	}
	dialer, log, err := o.dialerAndLog(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "chatbench: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	env := &chatload.Env{Addr: o.addr, Log: log, SourceIP: o.sourceIP, Dialer: dialer, CA: o.ca}
	res, err := env.Cleanup(ctx, o.accounts)
	fmt.Fprintf(stdout, "deleted %d account(s) recorded in %s; %d had no account (never registered or already deleted)\n",
		res.Deleted, o.accounts, res.Absent)
	if err != nil {
		fmt.Fprintf(stderr, "chatbench cleanup: %v\n", err)
		return exitError
	}
	if res.Kept > 0 {
		fmt.Fprintf(stdout, "%d account(s) could not be deleted and stay in %s for another cleanup; the first reason: %v\n",
			res.Kept, o.accounts, res.Err)
		return exitFailed
	}
	if res.Deleted+res.Absent > 0 {
		fmt.Fprintf(stdout, "removed %s\n", o.accounts)
	}
	return 0
}

// runID is a short random prefix for usernames and client_msg_ids.
func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "cb" + hex.EncodeToString(b)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// summary prints the JSON reports given as Markdown: one table of every
// figure that has a goal, then a section per report.
func summary(paths []string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "usage: chatbench summary REPORT.json...")
		return exitUsage
	}
	reps := make([]*report.Report, 0, len(paths))
	for _, p := range paths {
		r, err := report.ReadJSON(p)
		if err != nil {
			fmt.Fprintf(stderr, "chatbench summary: %v\n", err)
			return exitError
		}
		reps = append(reps, r)
	}
	report.WriteGoals(stdout, reps)
	fmt.Fprintln(stdout)
	for _, r := range reps {
		r.WriteMarkdown(stdout)
	}
	return 0
}
