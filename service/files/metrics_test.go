package files

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chatd/chatd/protocol"
)

func TestMetricsCountOutcomes(t *testing.T) {
	h := newHarness(t, nil)
	before := map[prometheus.Counter]float64{}
	counters := []prometheus.Counter{metricUploadsDone, metricUploadsBadSum, metricDownloadsDone, metricBadTokens, metricBytesIn, metricBytesOut}
	for _, c := range counters {
		before[c] = testutil.ToFloat64(c)
	}
	data := randBytes(50, 10000)
	id := h.upload(t, 1, data)
	h.download(t, 2, id)
	bad := h.meta.add(1, data)
	if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, bad), 0, bytes.NewReader(make([]byte, len(data))), int64(len(data))); codeOf(t, err) != protocol.CodeBadRequest {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := Download(context.Background(), h.addr, "forged", 0, io.Discard); codeOf(t, err) != protocol.CodeBadCredentials {
		t.Fatalf("bad token: %v", err)
	}
	want := map[prometheus.Counter]float64{
		metricUploadsDone: 1, metricUploadsBadSum: 1, metricDownloadsDone: 1, metricBadTokens: 1,
		metricBytesIn: 2 * 10000, metricBytesOut: 10000,
	}
	for c, d := range want {
		if got := testutil.ToFloat64(c) - before[c]; got != d {
			t.Errorf("%s moved by %v, want %v", c.Desc(), got, d)
		}
	}
	// The server finishes a connection just after its client has read the
	// last byte: wait for the gauge to settle rather than sample it.
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(metricActive) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("active transfers gauge %v after all ended", testutil.ToFloat64(metricActive))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
