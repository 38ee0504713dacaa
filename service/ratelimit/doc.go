// Package ratelimit holds the failed-login limiter of chatd: per key
// (username or remote IP) it counts failures in a sliding minute and, once a
// key reaches its limit, blocks every attempt for that key until a minute has
// passed since the failure that tripped it. The map of keys is bounded:
// stale entries are swept, and past a hard cap the oldest are dropped, so a
// flood of distinct names cannot grow memory without bound. Per-connection
// message limits use golang.org/x/time/rate directly.
package ratelimit
