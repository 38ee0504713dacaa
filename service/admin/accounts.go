package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chatd/chatd/store"
)

// AccountEnforcer applies an account's stored state to its live sessions
// (*service.Server: the sessions of a disabled account, or whose token was
// revoked, are kicked). Given one in Config.Accounts, the admin listener
// serves POST /accounts/{id}/enforce and POST /accounts/{id}/deleted,
// which chatd's offline user commands call after changing the store so
// that a running chatd acts at once. The calls only apply what the store
// already says, so the unauthenticated listener gives no one a new power.
type AccountEnforcer interface {
	EnforceAccount(ctx context.Context, userID int64) (kicked int, err error)
	// EnforceDeletion applies the live effects of an account deletion
	// already committed to the store (del is what store.DeleteAccount
	// returned; the enforcer checks it against the store). It fails when
	// the store still holds the account.
	EnforceDeletion(ctx context.Context, userID int64, del store.AccountDeletion) (kicked int, err error)
}

// maxDeletionBody bounds the body of POST /accounts/{id}/deleted.
const maxDeletionBody = 16 << 20

// EnforceResult is the JSON reply of POST /accounts/{id}/enforce and
// /accounts/{id}/deleted: how many live sessions were kicked.
type EnforceResult struct {
	Kicked int `json:"kicked"`
}

// handleAccounts registers the account routes when e is set.
func handleAccounts(mux *http.ServeMux, e AccountEnforcer) {
	if e == nil {
		return
	}
	mux.HandleFunc("POST /accounts/{id}/enforce", accountRoute(func(ctx context.Context, id int64, _ *http.Request) (int, error) {
		return e.EnforceAccount(ctx, id)
	}))
	mux.HandleFunc("POST /accounts/{id}/deleted", accountRoute(func(ctx context.Context, id int64, r *http.Request) (int, error) {
		var del store.AccountDeletion
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxDeletionBody)).Decode(&del); err != nil {
			return 0, badRequest{fmt.Errorf("body: %w", err)}
		}
		return e.EnforceDeletion(ctx, id, del)
	}))
}

// badRequest marks an error in the request (HTTP 400).
type badRequest struct{ error }

// accountRoute serves one POST /accounts/{id}/... route: it parses the id,
// runs apply with a bounded context and answers EnforceResult as JSON.
func accountRoute(apply func(ctx context.Context, id int64, r *http.Request) (int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			http.Error(w, "account id must be a positive integer", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		n, err := apply(ctx, id, r)
		var bad badRequest
		switch {
		case errors.As(err, &bad):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(EnforceResult{Kicked: n})
	}
}
