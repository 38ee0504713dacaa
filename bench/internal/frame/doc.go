// Package frame splits a byte stream into the benchmark's broadcast frames:
// a 4-byte big-endian payload length followed by the payload. Every bench
// server uses it so that the libraries differ only in how they move bytes,
// not in how they parse them.
package frame
