//go:build !linux

package client

import "net"

// setBroadcast is a no-op where SO_BROADCAST is not wired up; unicast
// discovery still works.
func setBroadcast(*net.UDPConn) error { return nil }
