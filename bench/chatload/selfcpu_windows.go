package chatload

import "syscall"

// selfCPU returns this process's user+system CPU seconds. Windows has no
// getrusage; GetProcessTimes gives the same two figures in 100 ns units.
func selfCPU() float64 {
	var creation, exit, kernel, user syscall.Filetime
	h, err := syscall.GetCurrentProcess()
	if err != nil || syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	ticks := func(f syscall.Filetime) float64 { return float64(uint64(f.HighDateTime)<<32 | uint64(f.LowDateTime)) }
	return (ticks(kernel) + ticks(user)) * 100 / 1e9
}
