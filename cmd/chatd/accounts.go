package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/store"
)

// generatedPasswordBytes is the randomness of a --generate password: 128
// bits, 22 characters of unpadded base64url.
const generatedPasswordBytes = 16

// resetPassword sets u's password, revoking every token of u, and asks a
// running chatd to kick the sessions those tokens opened. The password is
// generated (--generate, printed once), typed twice without echo when
// stdin is a terminal, or else the first line of stdin. It obeys
// registration's rules and is hashed by the same hasher configuration the
// server uses.
func resetPassword(ctx context.Context, cfg config, st store.Store, u store.User, generate bool, log zerolog.Logger, env runEnv) error {
	sc := serviceConfig(cfg, st, log, "")
	var password string
	var err error
	if generate {
		b := make([]byte, generatedPasswordBytes)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	} else if password, err = readNewPassword(env, u.Username); err != nil {
		return err
	}
	if err := sc.CheckPassword(password); err != nil {
		return usageError{fmt.Errorf("new password refused: %w", err)}
	}
	hash, err := service.NewPasswordHasher(sc).Hash(ctx, password)
	if err != nil {
		return err
	}
	// A zero session: the user keeps no token at all.
	if err := st.ChangePassword(ctx, u.ID, hash, store.Session{}); err != nil {
		return fmt.Errorf("reset the password of %s: %w", u.Username, err)
	}
	log.Info().Int64("user", u.ID).Str("username", u.Username).Msg("password reset by the administrator; every token revoked")
	w := env.Stdout
	if generate {
		fmt.Fprintf(w, "new password of %s (shown once): %s\n", u.Username, password)
	}
	fmt.Fprintf(w, "reset the password of %s (id %d): every token revoked\n", u.Username, u.ID)
	fmt.Fprintln(w, tellChatd(ctx, cfg.AdminAddr, u.ID, "enforce", nil))
	return nil
}

// maxPasswordInput bounds what is read from a non-terminal stdin.
const maxPasswordInput = 4096

// readNewPassword reads the new password: typed twice without echo when
// stdin is a terminal (prompts on stderr), else the first line of stdin
// without its line ending.
func readNewPassword(env runEnv, username string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "new password of %s: ", username)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(env.Stderr, "again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(again) {
			return "", usageError{errors.New("the two passwords differ")}
		}
		return string(first), nil
	}
	if env.Stdin == nil {
		return "", usageError{errors.New("no password on stdin (pipe one line, or use --generate)")}
	}
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, maxPasswordInput)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usageError{errors.New("no password on stdin (pipe one line, or use --generate)")}
	}
	return line, nil
}

// deleteUser deletes u as account.delete does (the same store call), then
// asks a running chatd to apply the live effects: kicks, friend.removed,
// group events, rooms left.
func deleteUser(ctx context.Context, cfg config, st store.Store, u store.User, log zerolog.Logger, w io.Writer) error {
	del, err := st.DeleteAccount(ctx, u.ID, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("delete %s: %w", u.Username, err)
	}
	log.Info().Int64("user", u.ID).Str("username", u.Username).Int("friends", len(del.Friends)).
		Int("dismissed", len(del.Dismissed)).Int("left", len(del.Left)).Msg("account deleted by the administrator")
	fmt.Fprintf(w, "deleted %s (id %d): %d friendship(s) ended, %d owned group(s) dismissed, %d group(s) left; the name stays taken, its messages stay\n",
		u.Username, u.ID, len(del.Friends), len(del.Dismissed), len(del.Left))
	fmt.Fprintln(w, tellChatd(ctx, cfg.AdminAddr, u.ID, "deleted", del))
	return nil
}
