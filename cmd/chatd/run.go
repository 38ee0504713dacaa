package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/store"
)

// errUsage marks errors in the command line, environment or config file
// (exit status 2).
var errUsage = errors.New("usage")

// usageError wraps err so that errors.Is(err, errUsage) holds and the
// message stays err's.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Is(target error) bool { return target == errUsage }
func (e usageError) Unwrap() error        { return e.err }

// runEnv is the process environment run works in, replaceable by tests.
type runEnv struct {
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
	Stdin     io.Reader // the new password of user reset-password; nil reads nothing
	Stdout    io.Writer // where listening addresses and `version` go
	Stderr    io.Writer // logs, usage and flag errors
	// OnReady, when set, is called once every listener is serving.
	OnReady func(listening)
}

const usageText = `usage:
  chatd [serve] [flags]           serve (defaults: chat :9000, files :9001, discovery udp :9002, admin 127.0.0.1:9090)
  chatd migrate [flags]           apply the store's schema migrations and exit
  chatd backup --out FILE [flags] write a consistent copy of the embedded store, also while chatd runs
                                  (MySQL/MariaDB: use mariadb-dump --single-transaction or mariabackup)
  chatd restore --from FILE [flags]
                                  replace the embedded store with a backup; chatd must be stopped
  chatd cert [--host NAMES]       write a self-signed development TLS certificate into the data dir
                                  and print how to serve with it and how to trust it
  chatd user list [--after ID] [--limit N] [flags]
                                  list accounts by id
  chatd user show NAME|ID         one account
  chatd user disable NAME|ID      refuse its logins (FORBIDDEN), revoke its tokens, kick its live sessions
  chatd user enable NAME|ID       let a disabled account log in again
  chatd user reset-password NAME|ID [--generate]
                                  set a new password (typed twice without echo on a terminal,
                                  else the first line of stdin; --generate makes one and prints
                                  it once), revoke every token, kick its live sessions
  chatd user delete NAME|ID --yes delete the account as account.delete does: friendships end,
                                  owned groups are dismissed, other groups left, the profile
                                  blanked, live sessions kicked; the name stays taken
  chatd version                   print the build and exit
  chatd help                      print this help

Admin commands (migrate, backup, restore, user) work offline on the store
the flags name: they need only access to the store (the same --config,
environment and flags as the server, no credentials of their own), work
whether chatd runs or not, and with several chatd on one database. What a
running chatd must act on at once (kicking the sessions of a disabled,
reset or deleted account; telling a deleted account's friends and groups)
it is told through its admin listener (--admin-addr); the store alone
already refuses the account's next login on every node.

Each flag may also be set by the environment variable CHATD_<FLAG_NAME>
(--chat-addr is CHATD_CHAT_ADDR) or by a line "flag-name = value" in the
--config file; a flag beats the environment, which beats the file.

flags:
`

// run dispatches the subcommand in args and returns when it is done; for
// serving, when ctx ends and shutdown completes.
func run(ctx context.Context, args []string, env runEnv) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		if len(args) > 0 {
			return usageError{fmt.Errorf("version takes no arguments")}
		}
		printVersion(env.Stdout, readBuildInfo())
		return nil
	case "help":
		printUsage(env.Stdout)
		return nil
	case "serve", "migrate", "backup", "restore", "cert", "user":
	default:
		return usageError{fmt.Errorf("unknown command %q (want serve, migrate, backup, restore, cert, user, version or help)", cmd)}
	}
	var file, hosts, sub string
	var uf userFlags
	var extra func(*flag.FlagSet)
	switch cmd {
	case "cert":
		extra = certHostsFlag(&hosts)
	case "user":
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return usageError{errors.New("user needs a command: " + userCommands)}
		}
		sub, args = args[0], args[1:]
		extra = uf.declareFor(sub)
	case "backup":
		extra = fileFlag(&file, "out", "backup `file` to write (must not exist)")
	case "restore":
		extra = fileFlag(&file, "from", "backup `file` to restore")
	}
	cfg, rest, err := loadCommandConfig("chatd "+cmd, args, extra, env.LookupEnv, env.ReadFile, io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(env.Stderr)
		return err
	}
	if err == nil && len(rest) > 0 && cmd != "user" {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	if err != nil {
		return usageError{err}
	}
	log := newLogger(env.Stderr, cfg.LogLevel, cfg.LogFormat)
	switch cmd {
	case "cert":
		return writeDevCert(cfg, hosts, env.Stdout)
	case "migrate":
		return migrate(ctx, cfg, log, env.Stdout)
	case "backup":
		return backup(ctx, cfg, file, log, env.Stdout)
	case "restore":
		return restore(ctx, cfg, file, log, env.Stdout)
	case "user":
		return userCommand(ctx, cfg, sub, rest, uf, log, env)
	}
	return serve(ctx, cfg, log, env)
}

// printUsage writes the help text with every flag and its default.
func printUsage(w io.Writer) {
	io.WriteString(w, usageText)
	cfg := defaultConfig()
	fs := newFlagSet("chatd", &cfg, w)
	fs.PrintDefaults()
}

// storeConfig maps the settings to the store's: MySQL when a DSN is given,
// else SQLite in the data directory.
func storeConfig(cfg config) store.Config {
	if cfg.MySQLDSN != "" {
		return store.Config{Driver: "mysql", DSN: cfg.MySQLDSN}
	}
	return store.Config{Driver: "sqlite", DataDir: cfg.DataDir}
}

// describeStore names the store for people, never showing a password.
func describeStore(cfg config) string {
	if cfg.MySQLDSN == "" {
		return "sqlite in " + cfg.DataDir
	}
	mc, err := mysql.ParseDSN(cfg.MySQLDSN)
	if err != nil {
		return "mysql (unparsable DSN)"
	}
	return fmt.Sprintf("mysql %s@%s(%s)/%s", mc.User, mc.Net, mc.Addr, mc.DBName)
}

// migrate applies pending store migrations and reports the schema version.
func migrate(ctx context.Context, cfg config, log zerolog.Logger, out io.Writer) error {
	v, err := store.Migrate(ctx, storeConfig(cfg))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", describeStore(cfg), err)
	}
	log.Info().Str("store", describeStore(cfg)).Int("schema_version", v).Msg("store migrated")
	fmt.Fprintf(out, "store %s at schema version %d\n", describeStore(cfg), v)
	return nil
}
