package files

import (
	"os"
	"time"
)

// cpuStall returns the kernel's running total of time during which at
// least one runnable task waited for a processor (the "some" line of
// /proc/pressure/cpu, pressure stall information); false where the kernel
// does not provide it.
func cpuStall() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, false
	}
	return parseStall(b)
}
