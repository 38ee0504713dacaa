package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds one pool's statement cache. The texts sent through
// a pool are the fixed queries of this package (a few dozen); a text beyond
// the bound runs unprepared, so a caller that builds texts on the fly (IN
// lists) cannot grow the cache without limit.
const maxCachedStmts = 128

// pool runs the queries of one *sql.DB. On SQLite (prepare set) each query
// text is prepared once, on first use, and the *sql.Stmt is reused by every
// later call (database/sql prepares it again on each pooled connection it
// lands on): parsing SQL otherwise dominates in-process reads. MySQL runs
// texts directly: interpolateParams already makes a query one round trip,
// and server-side prepares would add round trips.
//
// Texts built with a variable number of placeholders should not be sent
// through a pool; call the *sql.DB directly for those.
type pool struct {
	db      *sql.DB
	prepare bool

	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newPool(db *sql.DB, prepare bool) *pool {
	return &pool{db: db, prepare: prepare, stmts: map[string]*sql.Stmt{}}
}

// stmt returns q's cached statement, preparing it on first use; nil (and
// no error) when q is to run unprepared. After close it returns ErrClosed.
func (p *pool) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	p.mu.RLock()
	st, closed, full := p.stmts[q], p.closed, len(p.stmts) >= maxCachedStmts
	p.mu.RUnlock()
	switch {
	case closed:
		return nil, ErrClosed
	case st != nil || !p.prepare || full:
		return st, nil
	}
	// Prepared outside the lock, since it may wait for a connection. Two
	// callers meeting a text first at the same time both prepare it; the
	// second to get here drops its statement.
	st, err := p.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.stmts[q]
	switch {
	case p.closed:
		st.Close()
		return nil, ErrClosed
	case old != nil:
		st.Close()
		return old, nil
	case len(p.stmts) >= maxCachedStmts:
		st.Close()
		return nil, nil
	}
	p.stmts[q] = st
	return st, nil
}

func (p *pool) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p *pool) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.db.ExecContext(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}

// scanner is a row to scan: a *sql.Row, *sql.Rows, or errRow.
type scanner interface{ Scan(...any) error }

// errRow is a row whose Scan reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (p *pool) queryRow(ctx context.Context, q string, args ...any) scanner {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	if st == nil {
		return p.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes the cached statements (not the *sql.DB); later calls report
// ErrClosed.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
}
