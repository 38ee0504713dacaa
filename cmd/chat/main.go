package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/cmd/chat/internal/tui"
	"github.com/chatd/chatd/protocol"
)

const usage = `usage:
  chat [--server HOST:PORT[,HOST:PORT...]] [--device NAME] [--tls] [--ca FILE]
                                                     interactive client
  chat [flags] send --to USER|--group ID TEXT...     send one message
  chat [flags] tail [--json]                         print incoming messages
flags for send and tail: --user NAME (password from $CHAT_PASSWORD);
without it the session remembered by an interactive login is used.
--tls speaks TLS to the server; --ca FILE trusts the authority in FILE
(for example the development certificate ` + "`chatd cert`" + ` wrote) and implies --tls.
--server may list the nodes of one server (docs/cluster.md) separated by commas:
the client connects to one of them and moves to another when its node goes away.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// globals are the flags before the subcommand.
type globals struct {
	server string
	device string
	user   string
	tls    bool   // speak TLS to the server
	ca     string // PEM file of the authority to trust; implies tls
}

// tlsConfig returns the client TLS settings the flags ask for, nil for
// plaintext. Without --ca the system's authorities are trusted.
func (g globals) tlsConfig() (*tls.Config, error) {
	if !g.tls && g.ca == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.ca != "" {
		pem, err := os.ReadFile(g.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", g.ca)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	var g globals
	fs.StringVar(&g.server, "server", "", "chat server HOST:PORT, or the nodes of one server as HOST:PORT,HOST:PORT,... (default localhost:9000)")
	fs.StringVar(&g.device, "device", "", "device label for the session")
	fs.StringVar(&g.user, "user", "", "username for send/tail (password from $CHAT_PASSWORD)")
	fs.BoolVar(&g.tls, "tls", false, "connect with TLS (the server's certificate must be trusted: see --ca)")
	fs.StringVar(&g.ca, "ca", "", "trust the certificate authority in this PEM `file` (e.g. the one `chatd cert` wrote); implies --tls")
	if helped, err := parseFlags(fs, args, usage, stdout, stderr); helped || err != nil {
		return err
	}
	tlsCfg, err := g.tlsConfig()
	if err != nil {
		return err
	}
	tokens, err := config.Default()
	if err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return runTUI(g, tokens, tlsCfg)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if g.server == "" {
		g.server = "localhost:9000"
	}
	switch rest[0] {
	case "send":
		return runSend(ctx, g, tokens, rest[1:], stdout, stderr)
	case "tail":
		return runTail(ctx, g, tokens, rest[1:], stdout, stderr)
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", rest[0], usage)
}

// parseFlags parses args. -h/--help is not an error: the usage goes to
// stdout and helped is true (the command then exits 0). A bad flag prints
// the error and the usage to stderr.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (helped bool, err error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n%s", err, usage)
	}
	return false, err
}

func runTUI(g globals, tokens *config.Store, tlsCfg *tls.Config) error {
	server := g.server
	discover := func() []protocol.DiscoverReply { return nil }
	if server == "" {
		server = "localhost:9000"
		discover = lanServers
	}
	device := g.device
	if device == "" {
		device = "tui"
	}
	m := tui.New(tui.Options{
		Server:        server,
		Device:        device,
		Tokens:        tokens,
		NoColor:       os.Getenv("NO_COLOR") != "",
		Discover:      discover,
		ClientOptions: client.Options{TLS: tlsCfg},
	})
	_, err := tea.NewProgram(m).Run()
	return err
}

// lanServers asks the LAN (broadcast) and this machine for chatd servers.
func lanServers() []protocol.DiscoverReply {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out []protocol.DiscoverReply
	seen := map[string]bool{}
	for _, addr := range []string{"255.255.255.255:9002", "127.0.0.1:9002"} {
		found, err := client.Discover(ctx, addr, 500*time.Millisecond)
		if err != nil {
			continue
		}
		for _, r := range found {
			if !seen[r.ChatAddr] {
				seen[r.ChatAddr] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// connect dials and logs in for the non-interactive commands: with
// --user and $CHAT_PASSWORD, or with the remembered token. device is the
// default session label of the command (one session lives per user and
// device, so "send" and "tail" must not share one).
func connect(ctx context.Context, g globals, tokens *config.Store, device string, opts client.Options) (*client.Client, error) {
	opts.Device = device
	var err error
	if opts.TLS, err = g.tlsConfig(); err != nil {
		return nil, err
	}
	if g.device != "" {
		opts.Device = g.device
	}
	c, err := client.Dial(ctx, g.server, opts)
	if err != nil {
		return nil, err
	}
	if g.user != "" {
		pass := os.Getenv("CHAT_PASSWORD")
		if pass == "" {
			c.Close()
			return nil, errors.New("--user needs the password in $CHAT_PASSWORD")
		}
		if _, err := c.Login(ctx, g.user, pass); err != nil {
			c.Close()
			return nil, fmt.Errorf("login: %w", err)
		}
		return c, nil
	}
	sess, ok, err := tokens.Get(g.server)
	if err != nil {
		c.Close()
		return nil, err
	}
	if !ok {
		c.Close()
		return nil, fmt.Errorf("no session remembered for %s: log in with chat first, or pass --user", g.server)
	}
	if _, err := c.LoginToken(ctx, sess.Username, sess.Token); err != nil {
		c.Close()
		return nil, fmt.Errorf("login with the remembered session: %w", err)
	}
	return c, nil
}
