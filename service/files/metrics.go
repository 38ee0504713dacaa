package files

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are registered on client_golang's default registry, which the
// admin listener serves; several Servers in one process (tests) share them.
var (
	metricUploadsDone = counter("chatd_file_uploads_completed_total", "Uploads completed and verified.")
	uploadsFailed     = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_file_uploads_failed_total", Help: "Uploads that failed, by reason."}, []string{"reason"})
	metricUploadsBadSum = uploadsFailed.WithLabelValues("checksum")
	metricUploadsCut    = uploadsFailed.WithLabelValues("interrupted")
	metricUploadsDisk   = uploadsFailed.WithLabelValues("write")
	metricDownloadsDone = counter("chatd_file_downloads_completed_total", "Downloads completed.")
	metricDownloadsCut  = counter("chatd_file_downloads_interrupted_total", "Downloads cut before their end.")
	metricBadTokens     = counter("chatd_file_bad_tokens_total", "File connections refused for a bad or expired token.")
	metricBytesIn       = counter("chatd_file_bytes_received_total", "File bytes received (uploads).")
	metricBytesOut      = counter("chatd_file_bytes_sent_total", "File bytes sent (downloads).")
	metricRefused       = counter("chatd_file_connections_refused_total", "File connections refused because the workers and queue were full.")
	metricStaleRemoved  = counter("chatd_file_stale_parts_removed_total", "Abandoned partial uploads removed.")
	metricActive        = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatd_file_transfers_active", Help: "File transfers in progress now."})
	metricPace = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatd_file_pace_bytes_per_second", Help: "The file pacer's last rate decision, bytes per second."})
)

func counter(name, help string) prometheus.Counter {
	return promauto.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}
