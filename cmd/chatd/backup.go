package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/store"
)

// backup writes a consistent copy of the embedded store to --out while
// chatd may be serving from it.
func backup(ctx context.Context, cfg config, out string, log zerolog.Logger, w io.Writer) error {
	if out == "" {
		return usageError{errors.New("backup needs --out FILE (a new file)")}
	}
	v, err := store.Backup(ctx, storeConfig(cfg), out)
	if err != nil {
		return fmt.Errorf("backup %s: %w", describeStore(cfg), err)
	}
	log.Info().Str("store", describeStore(cfg)).Str("out", out).Int("schema_version", v).Msg("store backed up")
	fmt.Fprintf(w, "backed up %s to %s (schema version %d)\n", describeStore(cfg), out, v)
	fmt.Fprintf(w, "uploaded files and the file token key stay in %s: copy them with your file backups\n", cfg.DataDir)
	return nil
}

// restore replaces the embedded store with the backup at from. chatd must
// be stopped: it takes the data directory's lock, which a running chatd
// holds.
func restore(ctx context.Context, cfg config, from string, log zerolog.Logger, w io.Writer) error {
	if from == "" {
		return usageError{errors.New("restore needs --from FILE (a file chatd backup wrote)")}
	}
	if cfg.MySQLDSN != "" {
		return fmt.Errorf("restore %s: %w", describeStore(cfg), store.ErrBackupUnsupported)
	}
	release, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("restore needs chatd stopped: %w", err)
	}
	defer release()
	v, kept, err := store.Restore(ctx, storeConfig(cfg), from)
	if err != nil {
		return fmt.Errorf("restore %s from %s: %w", describeStore(cfg), from, err)
	}
	log.Info().Str("store", describeStore(cfg)).Str("from", from).Str("kept", kept).Int("schema_version", v).Msg("store restored")
	fmt.Fprintf(w, "restored %s from %s (schema version %d)\n", describeStore(cfg), from, v)
	if kept != "" {
		fmt.Fprintf(w, "the database it replaced is kept as %s\n", kept)
	}
	return nil
}

// fileFlag declares a command's file flag on fs.
func fileFlag(p *string, name, usage string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) { fs.StringVar(p, name, "", usage) }
}
