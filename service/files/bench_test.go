package files

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

const benchFileSize = 64 << 20

// benchModes runs a transfer benchmark with the default pacing and without
// it: on a machine the benchmark itself saturates, the paced figure is the
// background-traffic speed and the unpaced one the raw path's.
func benchModes(b *testing.B, run func(b *testing.B, h *harness)) {
	b.Run("paced", func(b *testing.B) { run(b, newHarness(b, nil)) })
	b.Run("unpaced", func(b *testing.B) { run(b, newHarness(b, unpaced)) })
}

// BenchmarkUpload measures upload throughput on loopback: handshake,
// streaming to disk while hashing, fsync, verification and rename.
func BenchmarkUpload(b *testing.B) {
	benchModes(b, func(b *testing.B, h *harness) {
		data := randBytes(40, benchFileSize)
		sum := sha(data)
		b.SetBytes(benchFileSize)
		b.ResetTimer()
		for b.Loop() {
			id := h.meta.addSized(1, benchFileSize, sum)
			if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 0, bytes.NewReader(data), benchFileSize); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.Remove(h.s.finalPath(id)) // keep the disk footprint at one file
			b.StartTimer()
		}
	})
}

// BenchmarkDownload measures download throughput on loopback (sendfile on
// the server side).
func BenchmarkDownload(b *testing.B) {
	benchModes(b, func(b *testing.B, h *harness) {
		id := h.upload(b, 1, randBytes(41, benchFileSize))
		tok := h.s.DownloadToken(2, id)
		b.SetBytes(benchFileSize)
		b.ResetTimer()
		for b.Loop() {
			if _, err := Download(context.Background(), h.addr, tok, 0, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
