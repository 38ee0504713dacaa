package files

import "github.com/VictoriaMetrics/metrics"

// Metrics live on the library's default set, so the admin listener's
// metrics.WritePrometheus shows them; several Servers in one process (tests)
// share them.
var (
	metricUploadsDone   = metrics.GetOrCreateCounter("chatd_file_uploads_completed_total")
	metricUploadsBadSum = metrics.GetOrCreateCounter(`chatd_file_uploads_failed_total{reason="checksum"}`)
	metricUploadsCut    = metrics.GetOrCreateCounter(`chatd_file_uploads_failed_total{reason="interrupted"}`)
	metricUploadsDisk   = metrics.GetOrCreateCounter(`chatd_file_uploads_failed_total{reason="write"}`)
	metricDownloadsDone = metrics.GetOrCreateCounter("chatd_file_downloads_completed_total")
	metricDownloadsCut  = metrics.GetOrCreateCounter("chatd_file_downloads_interrupted_total")
	metricBadTokens     = metrics.GetOrCreateCounter("chatd_file_bad_tokens_total")
	metricBytesIn       = metrics.GetOrCreateCounter("chatd_file_bytes_received_total")
	metricBytesOut      = metrics.GetOrCreateCounter("chatd_file_bytes_sent_total")
	metricRefused       = metrics.GetOrCreateCounter("chatd_file_connections_refused_total")
	metricActive        = metrics.GetOrCreateGauge("chatd_file_transfers_active", nil)
	metricStaleRemoved  = metrics.GetOrCreateCounter("chatd_file_stale_parts_removed_total")
	metricPace          = metrics.GetOrCreateGauge("chatd_file_pace_bytes_per_second", nil) // the pacer's last decision
)
