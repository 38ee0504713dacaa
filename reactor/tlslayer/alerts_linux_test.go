//go:build linux && !reactor_netfallback

package tlslayer

// alertsWritten: the reactor writes a fatal alert before closing
// (reactor.FlushFirst); the non-Linux fallback closes at once.
const alertsWritten = true
