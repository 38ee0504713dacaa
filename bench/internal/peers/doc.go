// Package peers keeps the set of connected clients for the broadcast
// servers. Joins and leaves are rare and fan-out is constant, so the set is
// copy-on-write: a broadcast reads one immutable snapshot without locking.
package peers
