package store

import (
	"context"
	"errors"
)

// Open opens (creating if needed) the database cfg names, applies pending
// migrations and starts the group committer.
func Open(ctx context.Context, cfg Config) (Store, error) {
	return nil, errors.New("store: not implemented yet")
}

// Migrate applies pending migrations to the database cfg names and returns
// the schema version it left; it starts nothing (for `chatd migrate`).
func Migrate(ctx context.Context, cfg Config) (int, error) {
	return 0, errors.New("store: not implemented yet")
}
