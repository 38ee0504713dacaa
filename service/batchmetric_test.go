package service

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// promValue reads one sample of the default metric set, 0 if absent.
func promValue(t *testing.T, name string) float64 {
	t.Helper()
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	for line := range strings.Lines(buf.String()) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == name {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// A message sent through a store wired with ObserveStoreBatch moves the
// batch-size and commit-time histograms by at least that one append.
func TestStoreBatchMetricsMove(t *testing.T) {
	wired := backend{name: "sqlite", cfg: func(t testing.TB) store.Config {
		return store.Config{Driver: "sqlite", DataDir: t.TempDir(), OnBatch: ObserveStoreBatch}
	}}
	e := newEnv(t, wired)
	a, b := e.user("bm1"), e.user("bm2")
	befriend(t, a, b)
	sizeSum, count := promValue(t, "chatd_store_batch_size_sum"), promValue(t, "chatd_store_batch_size_count")
	commits := promValue(t, "chatd_store_commit_seconds_count")
	send(t, a, &protocol.MsgSendReq{ToUser: b.userID, Body: "m", ClientMsgID: "bm"})
	if got := promValue(t, "chatd_store_batch_size_sum"); got < sizeSum+1 {
		t.Errorf("chatd_store_batch_size_sum %v, want at least %v", got, sizeSum+1)
	}
	if got := promValue(t, "chatd_store_batch_size_count"); got < count+1 {
		t.Errorf("chatd_store_batch_size_count %v, want at least %v", got, count+1)
	}
	if got := promValue(t, "chatd_store_commit_seconds_count"); got < commits+1 {
		t.Errorf("chatd_store_commit_seconds_count %v, want at least %v", got, commits+1)
	}
}
