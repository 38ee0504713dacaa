// Package procstat reads the figures the benchmark compares from /proc:
// a process's CPU time (utime+stime from /proc/<pid>/stat), its resident
// memory (VmRSS from /proc/<pid>/status) and its write-family syscall count
// (syscw from /proc/<pid>/io). Linux only.
package procstat
