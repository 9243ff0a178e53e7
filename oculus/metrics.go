package oculus

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The label values of kale_oculus_searches_total: a query whose method is not valid counts
// as methodInvalid (with resultBadQuery only).
var (
	searchMethods = []string{MethodDTW, MethodEuclidean, MethodFastDTW}
	searchResults = []string{resultOK, resultBadQuery, resultTooMuchWork, resultNotFound, resultTimeout, resultCancelled,
		resultClosed, resultError}
)

const (
	methodInvalid     = "invalid"
	resultOK          = "ok"
	resultBadQuery    = "bad_query"
	resultTooMuchWork = "too_much_work"
	resultNotFound    = "not_found"
	resultTimeout     = "timeout"
	resultCancelled   = "cancelled"
	resultClosed      = "closed"
	resultError       = "error"
)

// metrics are the service's Prometheus self-metrics (documented in README.md).
type metrics struct {
	searches      *prometheus.CounterVec   // method, result
	searchSeconds *prometheus.HistogramVec // method
	candidates    prometheus.Counter
	scanned       prometheus.Counter
	documents     prometheus.Gauge
	syncSeconds   prometheus.Histogram
	reindexed     prometheus.Counter
	deleted       prometheus.Counter
	syncErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		searches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_oculus_searches_total",
			Help: "Shape searches by method and result (ok, bad_query, too_much_work, not_found, timeout, cancelled, closed, error).",
		}, []string{"method", "result"}),
		searchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kale_oculus_search_seconds",
			Help:    "Time of successful shape searches, by method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method"}),
		candidates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_oculus_search_candidates_total",
			Help: "Phase-1 candidates returned by the index, summed over searches.",
		}),
		scanned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_oculus_search_scanned_total",
			Help: "Distances computed (series not pruned by a lower bound), summed over searches.",
		}),
		documents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kale_oculus_index_documents",
			Help: "Documents (metrics) in the shape index.",
		}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kale_oculus_sync_seconds",
			Help:    "Duration of index sync passes.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		reindexed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_oculus_reindexed_total",
			Help: "Metrics (re-)indexed because their data changed.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_oculus_deleted_total",
			Help: "Metrics removed from the index because they vanished from Redis.",
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_oculus_sync_errors_total",
			Help: "Index sync passes that failed.",
		}),
	}
	// Every known label value is exported from the start (at 0), so that dashboards and
	// absent() alerts see the series before the first search of each kind.
	for _, method := range searchMethods {
		for _, result := range searchResults {
			m.searches.WithLabelValues(method, result)
		}
		m.searchSeconds.WithLabelValues(method)
	}
	m.searches.WithLabelValues(methodInvalid, resultBadQuery)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.searches, m.searchSeconds, m.candidates, m.scanned,
		m.documents, m.syncSeconds, m.reindexed, m.deleted, m.syncErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SyncStats describe one sync pass.
type SyncStats struct {
	Metrics   int           // keys in the namespace's unique set
	Indexed   int           // documents (re-)indexed because their data changed or were new
	Unchanged int           // metrics whose stored bytes had not changed (not read again)
	Loaded    int           // read into memory without re-indexing (the index was current: restart)
	Deleted   int           // documents removed (metric vanished or became too short)
	Skipped   int           // metrics with fewer than 2 usable points in the window (not indexed)
	Documents int           // documents in the index afterwards
	Duration  time.Duration // wall time of the pass
}

// Rate is the number of metrics read and prepared per second.
func (st SyncStats) Rate() float64 {
	if st.Duration <= 0 {
		return 0
	}
	return float64(st.Indexed+st.Loaded) / st.Duration.Seconds()
}

func (st SyncStats) logAttrs() []any {
	return []any{slog.Int("metrics", st.Metrics), slog.Int("indexed", st.Indexed),
		slog.Int("unchanged", st.Unchanged), slog.Int("loaded", st.Loaded), slog.Int("deleted", st.Deleted),
		slog.Int("skipped", st.Skipped), slog.Int("documents", st.Documents),
		slog.Float64("seconds", st.Duration.Seconds())}
}
