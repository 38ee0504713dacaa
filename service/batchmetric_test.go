package service

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// exposition renders client_golang's default registry, which the admin
// listener serves, in the Prometheus text format.
func exposition() (string, error) {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return "", err
		}
	}
	return buf.String(), nil
}

// sampleValue reads one sample (name with its labels, as exposed) of the
// default registry, 0 if absent.
func sampleValue(name string) (float64, error) {
	text, err := exposition()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(text) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == name {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, nil
}

func promValue(t testing.TB, name string) float64 {
	t.Helper()
	v, err := sampleValue(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
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
