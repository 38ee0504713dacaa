//go:build !linux

package files

import "time"

// cpuStall reports no stall information outside Linux: the pacer then
// relies on lateness alone.
func cpuStall() (time.Duration, bool) { return 0, false }
