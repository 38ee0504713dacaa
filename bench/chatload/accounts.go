package chatload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// AccountRecord is one line of the accounts file: the accounts one
// scenario named for a run against a chatd that outlives it, so that they
// can be found and removed later (Env.Cleanup, chatbench cleanup). The password is not written down: it
// follows from the run id (runPassword).
type AccountRecord struct {
	Run   string    `json:"run"`
	Addr  string    `json:"addr"`
	At    time.Time `json:"at"`
	Users []string  `json:"users"`
}

// runPassword is the password of every account a run makes.
func runPassword(runID string) string { return "pw-" + runID + "-chatbench" }

// AccountLog is the accounts file of a run: AccountRecord lines appended
// as scenarios name accounts. It is safe for concurrent use.
type AccountLog struct {
	// Path is the file, created when missing.
	Path string

	mu       sync.Mutex
	recorded int
}

// record appends the run's new accounts, before they are registered (a
// run cut short leaves its record; names that never registered are
// harmless there). A nil log records nothing.
func (l *AccountLog) record(runID, addr string, us []*user) error {
	if l == nil || len(us) == 0 {
		return nil
	}
	rec := AccountRecord{Run: runID, Addr: addr, At: time.Now().UTC(), Users: make([]string, len(us))}
	for i, u := range us {
		rec.Users[i] = u.Name
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode account record: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record accounts: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("record accounts in %s: %w", l.Path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record accounts in %s: %w", l.Path, err)
	}
	l.recorded += len(us)
	return nil
}

// Recorded returns how many accounts this log has recorded (0 for nil).
func (l *AccountLog) Recorded() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recorded
}

// ReadAccounts reads an accounts file; a missing file holds no records.
func ReadAccounts(path string) ([]AccountRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	defer f.Close()
	var recs []AccountRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var r AccountRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return recs, nil
}
