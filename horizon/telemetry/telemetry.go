// Package telemetry holds horizon's Prometheus self-metrics: what every listener received and
// rejected (by reason), what the writer stored, dropped and still buffers, and how long Redis
// writes take. It replaces Skyline's skyline.horizon.queue_size Graphite metric.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kale-project/kale/horizon/ingest"
)

// Stats are horizon's collectors, registered once per process.
type Stats struct {
	Received     *prometheus.CounterVec // protocol
	Rejected     *prometheus.CounterVec // protocol, reason
	Payloads     *prometheus.CounterVec // protocol: frames, datagrams or lines read
	Stored       prometheus.Counter
	Buffered     prometheus.Gauge
	FlushSeconds prometheus.Histogram
	FlushErrors  prometheus.Counter
	Connections  *prometheus.GaugeVec   // protocol
	Up           *prometheus.GaugeVec   // protocol: 1 when the listener is bound
	AcceptErrors *prometheus.CounterVec // protocol: failed accepts (fd exhaustion and the like), retried
	Inflight     prometheus.Gauge       // bytes of partly received TCP payloads held (the --max-inflight-bytes budget in use)
	RoombaPasses *prometheus.CounterVec
	RoombaKeys   *prometheus.CounterVec // outcome
	RoombaBad    prometheus.Counter
	RoombaSecs   prometheus.Gauge
}

// New creates the collectors and registers them on reg (nil: not registered, for tests).
func New(reg prometheus.Registerer) *Stats {
	s := &Stats{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_horizon_received_total", Help: "Datapoints decoded by a listener, before filters.",
		}, []string{"protocol"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_horizon_rejected_total", Help: "Datapoints, items or payloads rejected or dropped, by protocol and reason.",
		}, []string{"protocol", "reason"}),
		Payloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_horizon_payloads_total", Help: "Frames, datagrams or lines read by a listener.",
		}, []string{"protocol"}),
		Stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_horizon_stored_total", Help: "Datapoints appended to Redis (full namespace).",
		}),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kale_horizon_buffered_datapoints", Help: "Datapoints accepted but not yet written to Redis (the bounded queue's depth).",
		}),
		FlushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kale_horizon_flush_seconds", Help: "Duration of one batched, pipelined write to Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		FlushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_horizon_flush_errors_total", Help: "Writes to Redis that failed and will be retried.",
		}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kale_horizon_connections", Help: "Open TCP connections per listener.",
		}, []string{"protocol"}),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kale_horizon_listener_up", Help: "1 when the listener is bound and serving, 0 when it is down.",
		}, []string{"protocol"}),
		AcceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_horizon_accept_errors_total", Help: "Failed accepts on a TCP listener (file descriptors exhausted and the like); the listener backs off and retries.",
		}, []string{"protocol"}),
		Inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kale_horizon_inflight_bytes", Help: "Bytes of partly received or not yet handed-over TCP payloads, across every listener (bounded by --max-inflight-bytes).",
		}),
		RoombaPasses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_roomba_passes_total", Help: "Roomba passes over a namespace.",
		}, []string{"namespace"}),
		RoombaKeys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_roomba_keys_total", Help: "Keys visited by Roomba, by outcome (unchanged, trimmed, purged, purged_missing, conflict, sadd_failed).",
		}, []string{"outcome"}),
		RoombaBad: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_roomba_corrupt_bytes_total", Help: "Bytes Roomba dropped because they did not decode as [ts, value] pairs.",
		}),
		RoombaSecs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kale_roomba_last_pass_seconds", Help: "Duration of the last Roomba pass.",
		}),
	}
	if reg != nil {
		reg.MustRegister(s.Received, s.Rejected, s.Payloads, s.Stored, s.Buffered, s.FlushSeconds,
			s.FlushErrors, s.Connections, s.Up, s.AcceptErrors, s.Inflight, s.RoombaPasses, s.RoombaKeys, s.RoombaBad, s.RoombaSecs)
	}
	return s
}

// Proto caches one protocol's counters so hot paths avoid label lookups.
type Proto struct {
	Name     string
	Received prometheus.Counter
	Payloads prometheus.Counter
	rejected [ingest.NumReasons]prometheus.Counter
}

// Proto returns the cached counters of one protocol (a horizon/protocol name labels them).
func (s *Stats) Proto(name string) *Proto {
	p := &Proto{Name: name, Received: s.Received.WithLabelValues(name), Payloads: s.Payloads.WithLabelValues(name)}
	for r := range ingest.NumReasons {
		p.rejected[r] = s.Rejected.WithLabelValues(name, r.String())
	}
	return p
}

// Reject counts n rejections for a reason.
func (p *Proto) Reject(r ingest.Reason, n int) { p.rejected[r].Add(float64(n)) }
