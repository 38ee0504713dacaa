package service

import (
	"sync"

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
)

// opCounters caches per-op counters so the hot path does no string work.
type opCounters struct {
	mu  sync.RWMutex
	m   map[protocol.Op]*metrics.Counter
	fmt func(protocol.Op) string
}

func (o *opCounters) get(op protocol.Op) *metrics.Counter {
	o.mu.RLock()
	c := o.m[op]
	o.mu.RUnlock()
	if c != nil {
		return c
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if c = o.m[op]; c == nil {
		c = metrics.GetOrCreateCounter(o.fmt(op))
		o.m[op] = c
	}
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
	framesIn = &opCounters{m: map[protocol.Op]*metrics.Counter{}, fmt: func(op protocol.Op) string {
		return `chatd_frames_in_total{op="` + opName(op) + `"}`
	}}
	framesOut = &opCounters{m: map[protocol.Op]*metrics.Counter{}, fmt: func(op protocol.Op) string {
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
