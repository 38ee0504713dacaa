package service

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/reactor"
)

// Metrics are registered on client_golang's default registry, which the
// admin listener serves; several Servers in one process (tests) share them.
// The library was chosen over VictoriaMetrics/metrics for its HELP text and
// the stock Go and process collectors (see service/admin's doc).
var (
	metricSessions = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatd_sessions", Help: "Logged-in sessions now."})
	metricConnections = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatd_connections", Help: "Open chat connections now."})
	metricAppend = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "chatd_msg_append_seconds", Help: "Time to append one message to the store, group commit included.",
		Buckets: latencyBuckets})
	metricMediaDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_media_dropped_total", Help: "Room media frames dropped (lossy relay to slow receivers)."})
	metricPushes = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_msg_pushes_total", Help: "Message pushes written to receivers' connections."})
	metricPanics = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_handler_panics_total", Help: "Handler panics recovered (answered INTERNAL)."})
	metricBadFrames = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_bad_frames_total", Help: "Connections closed for an undecodable frame."})
	metricBatchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "chatd_store_batch_size", Help: "Messages per group commit of the message store.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11)}) // 1 .. 1024
	metricBatchCommit = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "chatd_store_commit_seconds", Help: "Time of one group-commit transaction of the message store.",
		Buckets: latencyBuckets})
	framesIn = newOpCounters(promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_frames_in_total", Help: "Frames received, by op."}, []string{"op"}))
	framesOut = newOpCounters(promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_frames_out_total", Help: "Frames written, by op."}, []string{"op"}))
	metricBusUp = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatd_bus_up", Help: "1 while the cluster bus (NATS) is connected, 0 while it is down; absent outside a cluster."})
	metricBusSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_bus_sent_total", Help: "Pushes sent to other nodes over the cluster bus (one per receiving node)."})
	metricBusReceived = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_bus_received_total", Help: "Envelopes received from other nodes over the cluster bus."})
	metricBusDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_bus_send_failures_total", Help: "Pushes the cluster bus refused (its connection was down and its buffer full)."})
	metricAnnounceLate = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_bus_announce_late_total", Help: "Logins that went on before every other node confirmed it knew the new session (cluster; a node slow or dead)."})
	metricGateFilled = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_gate_filled_total", Help: "Messages a node read from the store to close a gap in a conversation's pushes (cluster: senders on several nodes)."})
	metricGateDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatd_gate_dropped_total", Help: "Message pushes a node dropped at its reorder gate because it had released their seq already (cluster)."})
	replies = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_replies_total", Help: "Replies sent, by op and result code."}, []string{"op", "code"})
)

// latencyBuckets spans 100 µs to about 3.3 s, doubling: store appends and
// commits are sub-millisecond on SQLite and can reach seconds on a loaded
// MySQL, and histogram_quantile needs buckets on both sides of a quantile.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16)

// ObserveStoreBatch records one group commit of the message store (its
// number of appends and how long its transaction took) in
// chatd_store_batch_size and chatd_store_commit_seconds. Pass it as
// store.Config.OnBatch; it only touches atomics, so it is cheap enough for
// the committer goroutine.
func ObserveStoreBatch(size int, d time.Duration) {
	metricBatchSize.Observe(float64(size))
	metricBatchCommit.Observe(d.Seconds())
}

// ObserveBusUp records whether the cluster bus is connected
// (chatd_bus_up). Pass it as cluster.Config.OnUpChange.
func ObserveBusUp(up bool) {
	if up {
		metricBusUp.Set(1)
	} else {
		metricBusUp.Set(0)
	}
}

// opCounters holds one counter per op in a fixed table indexed by op, so
// counting a frame is an index and an atomic add: no label hashing, no
// lock, not even on a 1,000-recipient fan-out. Unknown ops share the last
// slot.
type opCounters [maxOpSlot + 1]prometheus.Counter

// maxOpSlot is one past the highest op of the contract (room.media push);
// that slot counts unknown ops.
const maxOpSlot = int(protocol.OpRoomMediaPush) + 1

// newOpCounters resolves every slot's child of vec once. Only known ops
// get a series, so a client cannot create unbounded ones.
func newOpCounters(vec *prometheus.CounterVec) *opCounters {
	var o opCounters
	for i := range maxOpSlot {
		if op := protocol.Op(i); op.Known() {
			o[i] = vec.WithLabelValues(op.String())
		}
	}
	o[maxOpSlot] = vec.WithLabelValues("unknown")
	return &o
}

func (o *opCounters) get(op protocol.Op) prometheus.Counter {
	if i := int(op); op.Known() && i < maxOpSlot && o[i] != nil {
		return o[i]
	}
	return o[maxOpSlot]
}

// opName is the label of an op; unknown ops share one label so a client
// cannot create unbounded series.
func opName(op protocol.Op) string {
	if op.Known() {
		return op.String()
	}
	return "unknown"
}

type replyKey struct {
	op   protocol.Op
	code protocol.Code
}

var replyCounters sync.Map // replyKey -> prometheus.Counter

func countReply(op protocol.Op, code protocol.Code) {
	if !op.Known() {
		op = 0xffff
	}
	if !code.Known() {
		code = protocol.CodeInternal
	}
	k := replyKey{op, code}
	v, ok := replyCounters.Load(k)
	if !ok {
		v, _ = replyCounters.LoadOrStore(k, replies.WithLabelValues(opName(op), string(code)))
	}
	v.(prometheus.Counter).Inc()
}

// reactorCollector exposes the event loop's counters, read at scrape time.
type reactorCollector struct{ stats func() reactor.Stats }

// reactorMetrics describes each exposed reactor counter and how to read it.
var reactorMetrics = []struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	get  func(reactor.Stats) uint64
}{
	{reactorDesc("connections", "Connections open on the event loops."), prometheus.GaugeValue, func(s reactor.Stats) uint64 { return s.Conns }},
	{reactorDesc("queued_bytes", "Bytes queued for output and not yet written."), prometheus.GaugeValue, func(s reactor.Stats) uint64 { return s.QueuedBytes }},
	{reactorDesc("accepted_total", "Connections accepted."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.Accepted }},
	{reactorDesc("closed_total", "Connections closed."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.Closed }},
	{reactorDesc("bytes_in_total", "Bytes read from connections."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.BytesIn }},
	{reactorDesc("bytes_out_total", "Bytes written to connections."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.BytesOut }},
	{reactorDesc("writev_total", "writev system calls."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.Writev }},
	{reactorDesc("eagain_total", "Writes that met a full socket buffer (EAGAIN)."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.EAGAIN }},
	{reactorDesc("dropped_lossy_total", "Lossy frames dropped for slow consumers."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.DroppedLossy }},
	{reactorDesc("wakeups_total", "Cross-goroutine wake-ups of the event loops."), prometheus.CounterValue, func(s reactor.Stats) uint64 { return s.Wakeups }},
}

func reactorDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("chatd_reactor_"+name, help, nil, nil)
}

// Describe implements prometheus.Collector.
func (r reactorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range reactorMetrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (r reactorCollector) Collect(ch chan<- prometheus.Metric) {
	st := r.stats()
	for _, m := range reactorMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.get(st)))
	}
}

// MetricsCollector returns the collector of this server's event-loop
// counters (chatd_reactor_*), read at scrape time; hand it to the admin
// listener. It is per server, unlike the package's metrics, because each
// Server has its own engine.
func (s *Server) MetricsCollector() prometheus.Collector {
	return reactorCollector{stats: s.ReactorStats}
}
