//go:build !linux || reactor_netfallback

package tlslayer

// alertsWritten: see alerts_linux_test.go.
const alertsWritten = false
