package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// AccountEnforcer applies an account's stored state to its live sessions
// (*service.Server: a disabled account's sessions are kicked). Given one in
// Config.Accounts, the admin listener serves
// POST /accounts/{id}/enforce, which chatd's offline user commands call
// after changing the store so that a running chatd acts at once. The call
// only applies what the store already says, so the unauthenticated
// listener gives no one a new power.
type AccountEnforcer interface {
	EnforceAccount(ctx context.Context, userID int64) (kicked int, err error)
}

// EnforceResult is the JSON reply of POST /accounts/{id}/enforce.
type EnforceResult struct {
	Kicked int `json:"kicked"`
}

// handleAccounts registers the account routes when e is set.
func handleAccounts(mux *http.ServeMux, e AccountEnforcer) {
	if e == nil {
		return
	}
	mux.HandleFunc("POST /accounts/{id}/enforce", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			http.Error(w, "account id must be a positive integer", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		n, err := e.EnforceAccount(ctx, id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(EnforceResult{Kicked: n})
	})
}
