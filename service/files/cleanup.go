package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CleanStale removes partial uploads (<id>.part) not modified for StaleAge,
// skipping any upload in progress, and returns how many it removed. The
// cleaner goroutine calls it every CleanupInterval; an upload resumed after
// its part was removed simply starts again from 0.
func (s *Server) CleanStale() (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("files: list %s: %w", s.dir, err)
	}
	cutoff := s.cfg.Now().Add(-s.cfg.StaleAge)
	removed := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		idText, ok := strings.CutSuffix(name, partSuffix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			continue // not ours
		}
		info, err := e.Info()
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		// Holding the lock while removing means no upload can open this
		// part between the check and the removal.
		s.mu.Lock()
		if _, busy := s.uploads[id]; !busy {
			if err := os.Remove(filepath.Join(s.dir, name)); err == nil {
				removed++
				metricStaleRemoved.Inc()
			} else if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		s.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("files: clean stale uploads: %w", err)
	}
	return removed, nil
}
