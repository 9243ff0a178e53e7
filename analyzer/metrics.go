package analyzer

import "github.com/prometheus/client_golang/prometheus"

// Kinds of kale_analyzer_errors_total.
const (
	errRead        = "read"         // an MGET of a chunk of series failed
	errRecords     = "records"      // the cycle's anomaly records could not be stored
	errAlert       = "alert"        // alert de-duplication failed (alerts were queued anyway)
	errGraphite    = "graphite"     // the Graphite self-metrics could not be sent
	errSecondOrder = "second_order" // the second-order check could not read its history
	errCycle       = "cycle"        // a whole cycle failed (membership or the unique set unreadable)
	errLease       = "lease"        // the heartbeat could not renew the lease
	errFeedback    = "feedback"     // operator feedback could not be read
	errState       = "state"        // a saved kale detector state was unreadable or corrupt
	errPanic       = "panic"        // a detector panicked on a series
)

// errorKinds lists every kind, so each is exported as 0 before its first error.
var errorKinds = []string{errRead, errRecords, errAlert, errGraphite, errSecondOrder, errCycle, errLease, errFeedback, errState, errPanic}

// Kinds of kale_analyzer_anomalies_total: an anomaly is new in the cycle whose points the
// detector found it in, and carried in each later cycle that still reports it as current.
const (
	anomalyNew     = "new"
	anomalyCarried = "carried"
)

type metrics struct {
	cycles     prometheus.Counter
	seconds    prometheus.Gauge
	metrics    prometheus.Gauge
	assigned   prometheus.Gauge
	members    prometheus.Gauge
	analysed   prometheus.Gauge
	anomalies  prometheus.Gauge
	reported   *prometheus.CounterVec
	exceptions *prometheus.CounterVec
	triggers   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	corrupt    prometheus.Counter
	future     prometheus.Counter
	// The kale detector's state keeping.
	reads        *prometheus.CounterVec // series read, by kind: tail or full
	states       *prometheus.GaugeVec   // detector states, by kind: all, young, unsaved
	checkpointed prometheus.Counter
	refined      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, names []string) *metrics {
	m := &metrics{
		cycles:   prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_analyzer_cycles_total", Help: "Completed analyzer cycles."}),
		seconds:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_cycle_seconds", Help: "Duration of the last cycle (Skyline skyline.analyzer.run_time)."}),
		metrics:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_metrics", Help: "Metrics in the last cycle."}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_assigned", Help: "Metrics this analyzer owned in the last cycle (its share among the live analyzers)."}),
		members:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_members", Help: "Live analyzers sharing the last cycle, this one included."}),
		analysed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_analysed", Help: "Metrics analysed in the last cycle (metrics minus exceptions)."}),
		anomalies: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_analyzer_anomalies",
			Help: "Anomalous metrics in the last cycle (new plus carried over)."}),
		reported: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_analyzer_anomalies_total",
			Help: "Anomalies reported, summed over cycles, by kind: new (found in the cycle's points) or carried (found in an earlier cycle, still current)."}, []string{"kind"}),
		exceptions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_analyzer_exceptions_total", Help: "Series skipped, by Skyline exception reason."}, []string{"reason"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_analyzer_triggers_total",
			Help: "Anomalous votes summed over cycles, by detector (Skyline's anomaly breakdown; a kale anomaly counts in every cycle that reports it)."}, []string{"algorithm"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_analyzer_errors_total",
			Help: "Analyzer errors, by kind (read, records, alert, graphite, second_order, cycle, lease, feedback, state, panic)."}, []string{"kind"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_analyzer_corrupt_bytes_total", Help: "Stored bytes that did not decode as [ts, value] pairs (skipped; the good points were analysed)."}),
		future:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_analyzer_future_points_total", Help: "Stored points stamped later than now + --max-future, ignored (Roomba removes them)."}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_analyzer_series_reads_total",
			Help: "Series read by the kale detector's cycles, by kind: tail (only the bytes after the last pair read) or full."}, []string{"kind"}),
		states: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kale_analyzer_kale_states",
			Help: "Kale detector states held after the last cycle, by kind: all, young (learnt from the newest rows only, not yet refined) and unsaved (changed since their last checkpoint)."}, []string{"kind"}),
		checkpointed: prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_analyzer_states_checkpointed_total", Help: "Kale detector states written to Redis."}),
		refined:      prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_analyzer_states_refined_total", Help: "Young kale detectors rebuilt from their whole stored series."}),
	}
	for _, k := range []string{"tail", "full"} {
		m.reads.WithLabelValues(k)
	}
	for _, k := range []string{"all", "young", "unsaved"} {
		m.states.WithLabelValues(k)
	}
	for _, r := range exceptionNames {
		m.exceptions.WithLabelValues(r)
	}
	for _, n := range names {
		m.triggers.WithLabelValues(n)
	}
	for _, k := range errorKinds {
		m.errors.WithLabelValues(k)
	}
	for _, k := range []string{anomalyNew, anomalyCarried} {
		m.reported.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.cycles, m.seconds, m.metrics, m.assigned, m.members, m.analysed, m.anomalies, m.reported,
			m.exceptions, m.triggers, m.errors, m.corrupt, m.future, m.reads, m.states, m.checkpointed, m.refined)
	}
	return m
}

func (m *metrics) observe(st CycleStats, corrupt, future int) {
	m.cycles.Inc()
	m.seconds.Set(st.DurationS)
	m.metrics.Set(float64(st.Metrics))
	m.assigned.Set(float64(st.Assigned))
	m.members.Set(float64(st.Instances))
	m.analysed.Set(float64(st.Analysed))
	m.anomalies.Set(float64(st.Anomalies))
	m.reported.WithLabelValues(anomalyNew).Add(float64(st.AnomaliesNew))
	m.reported.WithLabelValues(anomalyCarried).Add(float64(st.AnomaliesCarried))
	for r, n := range st.Exceptions {
		m.exceptions.WithLabelValues(r).Add(float64(n))
	}
	for a, n := range st.Triggers {
		m.triggers.WithLabelValues(a).Add(float64(n))
	}
	m.corrupt.Add(float64(corrupt))
	m.future.Add(float64(future))
}
