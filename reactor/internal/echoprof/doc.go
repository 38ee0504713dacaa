// Package main (echoprof) is a profiling helper for the reactor: an echo
// server that records a CPU profile while bench/loadgen drives it.
package main
