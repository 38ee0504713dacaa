package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTick is the unit of utime and stime in /proc/<pid>/stat. USER_HZ is
// 100 on every Linux architecture Go supports; reading it with sysconf would
// need cgo.
const ClockTick = 10 * time.Millisecond

// CPU returns the user plus system CPU time consumed so far by all threads
// of pid.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) may hold spaces and parentheses; fields
	// after the last ')' are fixed: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: malformed stat line %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: stat line has %d fields after comm", len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("procstat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("procstat: stime: %w", err)
	}
	return time.Duration(utime+stime) * ClockTick, nil
}

// RSS returns the resident set size of pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	v, err := field(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	if err != nil {
		return 0, err
	}
	return v * 1024, nil // VmRSS is in kB
}

// WriteSyscalls returns syscw from /proc/<pid>/io: the kernel's count of
// write-family system calls. Measured on this machine's kernel: write and
// writev are counted, sendmsg is not (netpoll writes with sendmsg), so
// the harness counts syscalls with perf tracepoints instead where it can.
func WriteSyscalls(pid int) (int64, error) {
	return field(fmt.Sprintf("/proc/%d/io", pid), "syscw:")
}

func field(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	defer f.Close()
	return parseField(f, key, path)
}

func parseField(f *os.File, key, path string) (int64, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, key); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				break
			}
			v, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("procstat: %s %s: %w", path, key, err)
			}
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("procstat: read %s: %w", path, err)
	}
	return 0, fmt.Errorf("procstat: %s has no %s", path, key)
}
