package service

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chatd/chatd/protocol"
)

// Metrics live on the library's default set so the admin listener's
// metrics.WritePrometheus shows them; several Servers in one process (tests)
// share them.
var (
	metricSessions     = metrics.GetOrCreateGauge("chatd_sessions", nil)
	metricConnections  = metrics.GetOrCreateGauge("chatd_connections", nil)
	metricAppend       = metrics.GetOrCreateHistogram("chatd_msg_append_seconds")
	metricMediaDropped = metrics.GetOrCreateCounter("chatd_media_dropped_total")
	metricPushes       = metrics.GetOrCreateCounter("chatd_msg_pushes_total")
	metricPanics       = metrics.GetOrCreateCounter("chatd_handler_panics_total")
	metricBadFrames    = metrics.GetOrCreateCounter("chatd_bad_frames_total")
	metricBatchSize    = metrics.GetOrCreateHistogram("chatd_store_batch_size")
	metricBatchCommit  = metrics.GetOrCreateHistogram("chatd_store_commit_seconds")
)

// ObserveStoreBatch records one group commit of the message store (its
// number of appends and how long its transaction took) in
// chatd_store_batch_size and chatd_store_commit_seconds. Pass it as
// store.Config.OnBatch; it only touches atomics, so it is cheap enough for
// the committer goroutine.
func ObserveStoreBatch(size int, d time.Duration) {
	metricBatchSize.Update(float64(size))
	metricBatchCommit.Update(d.Seconds())
}

// opCounters holds one counter per op in a fixed table indexed by op, so
// counting a frame is an atomic load and an atomic add: no lock, not even
// on a 1,000-recipient fan-out. Unknown ops share the last slot.
type opCounters struct {
	slots [maxOpSlot + 1]atomic.Pointer[metrics.Counter]
	fmt   func(protocol.Op) string
}

// maxOpSlot is one past the highest op of the contract (room.media push);
// that slot counts unknown ops.
const maxOpSlot = int(protocol.OpRoomMediaPush) + 1

func (o *opCounters) get(op protocol.Op) *metrics.Counter {
	i := int(op)
	if !op.Known() || i >= maxOpSlot {
		i, op = maxOpSlot, 0xffff
	}
	if c := o.slots[i].Load(); c != nil {
		return c
	}
	c := metrics.GetOrCreateCounter(o.fmt(op)) // idempotent: races agree
	o.slots[i].Store(c)
	return c
}

// opName is the label of an op; unknown ops share one label so a client
// cannot create unbounded series.
func opName(op protocol.Op) string {
	if op.Known() {
		return op.String()
	}
	return "unknown"
}

func labelOp(op protocol.Op) protocol.Op {
	if op.Known() {
		return op
	}
	return 0xffff
}

var (
	framesIn = &opCounters{fmt: func(op protocol.Op) string {
		return `chatd_frames_in_total{op="` + opName(op) + `"}`
	}}
	framesOut = &opCounters{fmt: func(op protocol.Op) string {
		return `chatd_frames_out_total{op="` + opName(op) + `"}`
	}}
)

type replyKey struct {
	op   protocol.Op
	code protocol.Code
}

var replyCounters sync.Map // replyKey -> *metrics.Counter

func countReply(op protocol.Op, code protocol.Code) {
	k := replyKey{labelOp(op), code}
	if !code.Known() {
		k.code = protocol.CodeInternal
	}
	v, ok := replyCounters.Load(k)
	if !ok {
		v, _ = replyCounters.LoadOrStore(k, metrics.GetOrCreateCounter(
			`chatd_replies_total{op="`+opName(k.op)+`",code="`+string(k.code)+`"}`))
	}
	v.(*metrics.Counter).Inc()
}
