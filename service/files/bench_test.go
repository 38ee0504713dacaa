package files

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

const benchFileSize = 64 << 20

// BenchmarkUpload measures upload throughput on loopback: handshake,
// streaming to disk while hashing, fsync, verification and rename.
func BenchmarkUpload(b *testing.B) {
	h := newHarness(b, nil)
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
}

// BenchmarkDownload measures download throughput on loopback (sendfile on
// the server side).
func BenchmarkDownload(b *testing.B) {
	h := newHarness(b, nil)
	id := h.upload(b, 1, randBytes(41, benchFileSize))
	tok := h.s.DownloadToken(2, id)
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Download(context.Background(), h.addr, tok, 0, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
