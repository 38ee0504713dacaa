package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// sqlStore is the one SQL implementation of Store; d holds the backend's
// differences.
type sqlStore struct {
	d      *dialect
	w      *sql.DB // writes (one connection on SQLite)
	r      *sql.DB // reads
	writes *pool   // w's fixed queries, prepared once on SQLite
	reads  *pool   // r's fixed queries, prepared once on SQLite
	c      *committer
	prep   *prepared // SQLite's one-row batch statements; nil on MySQL
	closed atomic.Bool
	log    zerolog.Logger
	search mroonga     // the MySQL search index (mroonga.go)
	fts    *ftsIndexer // SQLite's search indexer (ftsindex.go); nil on MySQL
	// searchWindow is how many of the newest ids a MySQL search scans
	// before asking the index (defaultSearchWindow).
	searchWindow int64
	// searchChunk is how many index candidates a MySQL search checks at
	// a time (defaultSearchChunk).
	searchChunk int
}

var _ Store = (*sqlStore)(nil)

// fail wraps err with what was being done, marking unreachable-database
// errors with ErrUnavailable.
func fail(what string, err error) error {
	return fmt.Errorf("store: %s: %w", what, wrapUnavailable(err))
}

// bound turns a caller's list limit into the one queries use: limit <= 0
// means DefaultLimit.
func bound(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return limit
}

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// placeholderRows returns n rows of cols marks: "(?,?),(?,?)".
func placeholderRows(cols, n int) string {
	return strings.TrimSuffix(strings.Repeat("("+placeholders(cols)+"),", n), ",")
}

func int64Args(ids []int64) []any {
	a := make([]any, len(ids))
	for i, v := range ids {
		a[i] = v
	}
	return a
}

// inTx runs fn in a write transaction, retrying transient conflicts.
func (s *sqlStore) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", what, ErrClosed)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var tx *sql.Tx
		tx, err = s.w.BeginTx(ctx, nil)
		if err != nil {
			return fail(what, err)
		}
		if err = fn(tx); err == nil {
			err = tx.Commit()
			if err == nil {
				return nil
			}
		} else {
			_ = tx.Rollback()
		}
		if !isRetryable(err) {
			break
		}
	}
	var se *sentinelErr
	if errors.As(err, &se) {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return fail(what, err)
}

// sentinelErr marks an application-level outcome raised inside a
// transaction (so inTx does not treat it as a database failure).
type sentinelErr struct{ err error }

func (e *sentinelErr) Error() string { return e.err.Error() }
func (e *sentinelErr) Unwrap() error { return e.err }

func outcome(err error) error { return &sentinelErr{err} }

// ---- users ----

const userCols = `id, username, nickname, signature, avatar_sha256, created_at, deleted_at, disabled`

// userColsU is userCols of the users table joined as u.
const userColsU = `u.id, u.username, u.nickname, u.signature, u.avatar_sha256, u.created_at, u.deleted_at, u.disabled`

func scanUser(sc interface{ Scan(...any) error }, withHash bool) (User, error) {
	var u User
	var disabled int
	dst := []any{&u.ID, &u.Username, &u.Nickname, &u.Signature, &u.AvatarSHA256, &u.CreatedAt, &u.DeletedAt, &disabled}
	if withHash {
		dst = append(dst, &u.PasswordHash)
	}
	err := sc.Scan(dst...)
	u.Disabled = disabled != 0
	return u, err
}

func (s *sqlStore) CreateUser(ctx context.Context, username, nickname, passwordHash string, createdAt int64) (User, error) {
	res, err := s.writes.exec(ctx, `INSERT INTO users (username, username_key, nickname, nick_key, password_hash, created_at) VALUES (?,?,?,?,?,?)`,
		username, strings.ToLower(username), nickname, strings.ToLower(nickname), passwordHash, createdAt)
	if isDuplicate(err) {
		return User{}, fmt.Errorf("store: create user %q: %w", username, ErrUsernameTaken)
	}
	if err != nil {
		return User{}, fail("create user", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return User{}, fail("create user: id", err)
	}
	return User{ID: id, Username: username, Nickname: nickname, PasswordHash: passwordHash, CreatedAt: createdAt}, nil
}

// userBy reads one user (with its password hash) by q, qUserByName or
// qUserByID.
func (s *sqlStore) userBy(ctx context.Context, p *pool, q string, arg any) (User, error) {
	u, err := scanUser(p.queryRow(ctx, q, arg), true)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return User{}, fail("read user", err)
	}
	return u, nil
}

func (s *sqlStore) UserByName(ctx context.Context, username string) (User, error) {
	return s.userBy(ctx, s.reads, qUserByName, strings.ToLower(username))
}

func (s *sqlStore) UserByID(ctx context.Context, id int64) (User, error) {
	return s.userBy(ctx, s.reads, qUserByID, id)
}

func (s *sqlStore) UsersByIDs(ctx context.Context, ids []int64) (map[int64]User, error) {
	out := make(map[int64]User, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 500)
		chunk := ids[:n]
		ids = ids[n:]
		// A variable text: run unprepared, not through the statement cache.
		rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE id IN (`+placeholders(len(chunk))+`)`, int64Args(chunk)...)
		if err := scanUsers(rows, err, func(u User) { out[u.ID] = u }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanUsers passes each user of a users query to each and closes rows;
// qerr is the query's error.
func scanUsers(rows *sql.Rows, qerr error, each func(User)) error {
	if qerr != nil {
		return fail("read users", qerr)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows, false)
		if err != nil {
			return fail("read users", err)
		}
		each(u)
	}
	if err := rows.Err(); err != nil {
		return fail("read users", err)
	}
	return nil
}

func (s *sqlStore) SearchUsers(ctx context.Context, prefix string, limit int) ([]User, error) {
	prefix = strings.ToLower(prefix)
	if prefix == "" {
		return []User{}, nil
	}
	limit = bound(limit)
	seen := map[int64]User{}
	add := func(u User) { seen[u.ID] = u }
	for _, col := range []string{"username_key", "nick_key"} {
		cond, args := s.d.prefixCond(col, prefix)
		args = append(args, limit)
		rows, err := s.reads.query(ctx, fmt.Sprintf(qSearch, cond, col), args...)
		if err := scanUsers(rows, err, add); err != nil {
			return nil, err
		}
	}
	out := make([]User, 0, len(seen))
	for _, u := range seen {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Username) < strings.ToLower(out[j].Username) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *sqlStore) UpdateProfile(ctx context.Context, userID int64, upd ProfileUpdate) (User, error) {
	var sets []string
	var args []any
	if upd.Nickname != nil {
		sets = append(sets, "nickname = ?", "nick_key = ?")
		args = append(args, *upd.Nickname, strings.ToLower(*upd.Nickname))
	}
	if upd.Signature != nil {
		sets = append(sets, "signature = ?")
		args = append(args, *upd.Signature)
	}
	if upd.SetAvatar {
		sum := ""
		var blob any // NULL clears
		if len(upd.Avatar) > 0 {
			h := sha256.Sum256(upd.Avatar)
			sum = hex.EncodeToString(h[:])
			blob = upd.Avatar
		}
		sets = append(sets, "avatar = ?", "avatar_sha256 = ?")
		args = append(args, blob, sum)
	}
	if len(sets) > 0 {
		args = append(args, userID)
		// At most 2^3 texts (which fields are set): fine to cache.
		res, err := s.writes.exec(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...)
		if err != nil {
			return User{}, fail("update profile", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return User{}, fmt.Errorf("store: update profile of %d: %w", userID, ErrNotFound)
		}
	}
	// Read from the writer so the caller sees its own write.
	u, err := s.userBy(ctx, s.writes, qUserByID, userID)
	u.PasswordHash = ""
	return u, err
}

func (s *sqlStore) Avatar(ctx context.Context, userID int64) ([]byte, error) {
	var b []byte
	err := s.reads.queryRow(ctx, `SELECT avatar FROM users WHERE id = ?`, userID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: avatar of %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return nil, fail("read avatar", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// ---- sessions ----

func (s *sqlStore) CreateSession(ctx context.Context, ss Session) error {
	_, err := s.writes.exec(ctx, `INSERT INTO sessions (token_hash, user_id, device, created_at, expires_at) VALUES (?,?,?,?,?)`,
		ss.TokenHash, ss.UserID, ss.Device, ss.CreatedAt, ss.ExpiresAt)
	if err != nil {
		return fail("create session", err)
	}
	return nil
}

func (s *sqlStore) Session(ctx context.Context, tokenHash []byte, now int64) (Session, error) {
	ss := Session{TokenHash: tokenHash}
	err := s.reads.queryRow(ctx, qSession, tokenHash).
		Scan(&ss.UserID, &ss.Device, &ss.CreatedAt, &ss.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && ss.ExpiresAt <= now) {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fail("read session", err)
	}
	return ss, nil
}

func (s *sqlStore) SessionUser(ctx context.Context, username string, tokenHash []byte, now int64) (User, Session, error) {
	ss := Session{TokenHash: tokenHash}
	row := s.reads.queryRow(ctx, qSessionUser, tokenHash, strings.ToLower(username))
	u, err := scanUser(scanThen{row, []any{&ss.Device, &ss.CreatedAt, &ss.ExpiresAt}}, false)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && ss.ExpiresAt <= now) {
		return User{}, Session{}, fmt.Errorf("store: session of %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return User{}, Session{}, fail("read session and user", err)
	}
	ss.UserID = u.ID
	return u, ss, nil
}

// scanThen scans a row whose first columns scanUser reads and whose last
// ones go to more.
type scanThen struct {
	sc   interface{ Scan(...any) error }
	more []any
}

func (s scanThen) Scan(dst ...any) error { return s.sc.Scan(append(dst, s.more...)...) }

func (s *sqlStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.writes.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fail("delete session", err)
	}
	return nil
}

func (s *sqlStore) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	flag := 0
	if disabled {
		flag = 1
	}
	return s.inTx(ctx, "set user disabled", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, flag, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return outcome(fmt.Errorf("user %d: %w", userID, ErrNotFound))
		}
		if disabled {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		}
		return err
	})
}

func (s *sqlStore) ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []User
	rows, err := s.reads.query(ctx, `SELECT `+userCols+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	err = scanUsers(rows, err, func(u User) { out = append(out, u) })
	return out, err
}

func (s *sqlStore) PruneSessions(ctx context.Context, now int64) (int64, error) {
	res, err := s.writes.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now)
	if err != nil {
		return 0, fail("prune sessions", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ---- files ----

func (s *sqlStore) CreateFile(ctx context.Context, f FileMeta) (FileMeta, error) {
	res, err := s.writes.exec(ctx, `INSERT INTO files (owner_id, conv, name, size, sha256, created_at, completed_at, node) VALUES (?,?,?,?,?,?,?,?)`,
		f.Owner, f.Conv, f.Name, f.Size, f.SHA256, f.CreatedAt, f.CompletedAt, f.Node)
	if err != nil {
		return FileMeta{}, fail("create file", err)
	}
	if f.ID, err = res.LastInsertId(); err != nil {
		return FileMeta{}, fail("create file: id", err)
	}
	return f, nil
}

func (s *sqlStore) File(ctx context.Context, fileID int64) (FileMeta, error) {
	f := FileMeta{ID: fileID}
	var recalled int
	err := s.reads.queryRow(ctx, `SELECT owner_id, conv, name, size, sha256, created_at, completed_at, recalled, node FROM files WHERE id = ?`, fileID).
		Scan(&f.Owner, &f.Conv, &f.Name, &f.Size, &f.SHA256, &f.CreatedAt, &f.CompletedAt, &recalled, &f.Node)
	f.Recalled = recalled != 0
	if errors.Is(err, sql.ErrNoRows) {
		return FileMeta{}, fmt.Errorf("store: file %d: %w", fileID, ErrNotFound)
	}
	if err != nil {
		return FileMeta{}, fail("read file", err)
	}
	return f, nil
}

func (s *sqlStore) MarkFileComplete(ctx context.Context, fileID int64, ts int64) error {
	res, err := s.writes.exec(ctx, `UPDATE files SET completed_at = ? WHERE id = ?`, ts, fileID)
	if err != nil {
		return fail("complete file", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: complete file %d: %w", fileID, ErrNotFound)
	}
	return nil
}

// Ping asks the read pool, which on SQLite never waits for the single
// writer connection, so a long group commit does not look like an outage.
func (s *sqlStore) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close stops the committer, then closes the statements and the pools.
func (s *sqlStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.c.close()
	s.stopIndexer()
	if s.fts != nil {
		s.fts.close()
	}
	if s.prep != nil {
		s.prep.close()
	}
	s.reads.close()
	s.writes.close()
	if err := closeDBs(s.w, s.r); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
