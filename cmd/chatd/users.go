package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/service/admin"
	"github.com/chatd/chatd/store"
)

// userFlags are the flags of the `chatd user` commands that have their own.
type userFlags struct {
	after    int64
	limit    int
	generate bool
	yes      bool
}

// declareFor returns the declaration of sub's own flags, nil for none.
func (f *userFlags) declareFor(sub string) func(*flag.FlagSet) {
	switch sub {
	case "list":
		return func(fs *flag.FlagSet) {
			fs.Int64Var(&f.after, "after", 0, "list users with an id above this `id` (the next page)")
			fs.IntVar(&f.limit, "limit", 100, "list at most this many `users`")
		}
	case "reset-password":
		return func(fs *flag.FlagSet) {
			fs.BoolVar(&f.generate, "generate", false, "generate a random password and print it once, instead of reading one")
		}
	case "delete":
		return func(fs *flag.FlagSet) {
			fs.BoolVar(&f.yes, "yes", false, "confirm the deletion, which cannot be undone")
		}
	}
	return nil
}

// userCommands names the `chatd user` commands for messages.
const userCommands = "list, show, disable, enable, reset-password or delete"

// userCommand runs `chatd user SUB [NAME|ID]` offline against the store
// (see usageText for why), then asks a running chatd to apply what changed.
func userCommand(ctx context.Context, cfg config, sub string, args []string, uf userFlags, log zerolog.Logger, env runEnv) error {
	w := env.Stdout
	want := 1
	switch sub {
	case "list":
		want = 0
	case "show", "disable", "enable", "reset-password", "delete":
	default:
		return usageError{fmt.Errorf("unknown user command %q (want %s)", sub, userCommands)}
	}
	if len(args) != want {
		if want == 0 {
			return usageError{fmt.Errorf("user list takes no arguments (use --after and --limit)")}
		}
		return usageError{fmt.Errorf("user %s needs one username or user id", sub)}
	}
	if sub == "delete" && !uf.yes {
		return usageError{fmt.Errorf("user delete %s cannot be undone (friendships, owned groups and the profile go; the name stays taken): add --yes to confirm", args[0])}
	}
	st, err := store.Open(ctx, storeConfig(cfg))
	if err != nil {
		return fmt.Errorf("open store %s: %w", describeStore(cfg), err)
	}
	defer st.Close()
	if sub == "list" {
		users, err := st.ListUsers(ctx, uf.after, uf.limit)
		if err != nil {
			return err
		}
		printUsers(w, users)
		return nil
	}
	u, err := findUser(ctx, st, args[0])
	if err != nil {
		return err
	}
	if u.DeletedAt != 0 && sub != "show" {
		return fmt.Errorf("user %s (id %d) is deleted", u.Username, u.ID)
	}
	switch sub {
	case "show":
		printUsers(w, []store.User{u})
		return nil
	case "enable":
		if err := st.SetUserDisabled(ctx, u.ID, false); err != nil {
			return err
		}
		log.Info().Int64("user", u.ID).Str("username", u.Username).Msg("account enabled")
		fmt.Fprintf(w, "enabled %s (id %d): it can log in again\n", u.Username, u.ID)
		return nil
	case "reset-password":
		return resetPassword(ctx, cfg, st, u, uf.generate, log, env)
	case "delete":
		return deleteUser(ctx, cfg, st, u, log, w)
	}
	// "disable"
	if err := st.SetUserDisabled(ctx, u.ID, true); err != nil {
		return err
	}
	log.Info().Int64("user", u.ID).Str("username", u.Username).Msg("account disabled")
	fmt.Fprintf(w, "disabled %s (id %d): logins are refused and its tokens revoked\n", u.Username, u.ID)
	fmt.Fprintln(w, tellChatd(ctx, cfg.AdminAddr, u.ID, "enforce", nil))
	return nil
}

// findUser resolves a username or a numeric user id.
func findUser(ctx context.Context, st store.Store, nameOrID string) (store.User, error) {
	var u store.User
	var err error
	if id, perr := strconv.ParseInt(nameOrID, 10, 64); perr == nil {
		u, err = st.UserByID(ctx, id)
	} else {
		u, err = st.UserByName(ctx, nameOrID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("no user %q", nameOrID)
	}
	return u, err
}

// printUsers writes one line per user, never a password hash.
func printUsers(w io.Writer, users []store.User) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tNICKNAME\tCREATED\tSTATUS")
	for _, u := range users {
		status := "active"
		switch {
		case u.DeletedAt != 0:
			status = "deleted"
		case u.Disabled:
			status = "disabled"
		}
		created := time.UnixMilli(u.CreatedAt).UTC().Format(time.RFC3339)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Nickname, created, status)
	}
	tw.Flush()
}

// tellChatd asks the chatd whose admin listener is at adminAddr to apply
// the account's stored state to its live sessions (POST
// /accounts/{id}/ROUTE with body, JSON, when not nil), and says what
// happened. A chatd that is not running has nothing to apply: the store
// already refuses what it must.
func tellChatd(ctx context.Context, adminAddr string, userID int64, route string, body any) string {
	if adminAddr == "" {
		return "no admin listener configured (--admin-addr): a running chatd keeps live sessions until they reconnect"
	}
	host, port, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return fmt.Sprintf("admin address %q: %v", adminAddr, err)
	}
	if host == "" || net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err.Error()
		}
		payload = bytes.NewReader(b)
	}
	url := fmt.Sprintf("http://%s/accounts/%d/%s", net.JoinHostPort(host, port), userID, route)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, payload)
	if err != nil {
		return err.Error()
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Sprintf("no chatd answered at %s (%v): if one runs elsewhere, its live sessions last until they reconnect", adminAddr, err)
	}
	defer resp.Body.Close()
	var res admin.EnforceResult
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&res) != nil {
		return fmt.Sprintf("the chatd at %s did not apply it (HTTP %s): its live sessions last until they reconnect", adminAddr, resp.Status)
	}
	return fmt.Sprintf("the chatd at %s kicked %d live session(s)", adminAddr, res.Kicked)
}
