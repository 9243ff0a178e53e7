package webapp

import (
	"context"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status is what the status page and /api/v1/status report: real checks, each with the
// numbers it measured.
type Status struct {
	Checked   time.Time        `json:"checked"`
	Redis     RedisStatus      `json:"redis"`
	Listeners []ListenerStatus `json:"listeners"`
	Analyzer  AnalyzerStatus   `json:"analyzer"`
	Index     IndexState       `json:"oculus"`
	Webapp    WebappStatus     `json:"webapp"`
}

// RedisStatus is a PING with its latency plus INFO's memory figures.
type RedisStatus struct {
	Up          bool    `json:"up"`
	Addr        string  `json:"addr"`
	Embedded    bool    `json:"embedded"`
	LatencyMS   float64 `json:"latency_ms"`
	Error       string  `json:"error,omitempty"`
	Version     string  `json:"version,omitempty"`
	UsedMemory  int64   `json:"used_memory_bytes,omitempty"`
	MaxMemory   int64   `json:"maxmemory_bytes,omitempty"`
	PeakMemory  int64   `json:"used_memory_peak_bytes,omitempty"`
	Keys        int64   `json:"keys"`
	Metrics     int64   `json:"metrics"`
	MemoryHuman string  `json:"used_memory_human,omitempty"`
}

// ListenerStatus is one horizon listener with its traffic.
type ListenerStatus struct {
	Protocol string  `json:"protocol"`
	Addr     string  `json:"addr"`
	Up       bool    `json:"up"`
	Error    string  `json:"error,omitempty"`
	Received float64 `json:"received_total"`
	Rejected float64 `json:"rejected_total"`
	Rate     float64 `json:"received_per_second"` // since the previous status check; -1 unknown
}

// AnalyzerStatus is the last completed cycle (kale.analyzer.cycle).
type AnalyzerStatus struct {
	Ran        bool           `json:"ran"`
	Started    time.Time      `json:"started,omitzero"`
	AgeS       float64        `json:"age_s"`
	Stale      bool           `json:"stale"`
	DurationS  float64        `json:"duration_s"`
	Metrics    int            `json:"metrics"`
	Analysed   int            `json:"analysed"`
	Anomalies  int            `json:"anomalies"`
	Exceptions map[string]int `json:"exceptions,omitempty"`
	Errors     int            `json:"errors"`
	Error      string         `json:"error,omitempty"`
}

// IndexState is the search index as oculus reports it.
type IndexState struct {
	Running bool `json:"running"`
	IndexStatus
}

// WebappStatus describes this server.
type WebappStatus struct {
	Version string  `json:"version"`
	UptimeS float64 `json:"uptime_s"`
	Writes  string  `json:"writes"`
	Charts  bool    `json:"charts"`
}

// staleCycle is the age after which the last analyzer cycle is reported stale.
const staleCycle = 5 * time.Minute

// collectStatus runs every check within bound (the Redis and index checks run concurrently,
// and whatever has not answered by then is reported as a timeout); full adds INFO and key
// counts.
func (s *Server) collectStatus(ctx context.Context, full bool, bound time.Duration) Status {
	now := s.now()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	st := Status{Checked: now.UTC(), Listeners: []ListenerStatus{}}
	idx := make(chan IndexState, 1)
	go func() {
		if s.index != nil {
			idx <- IndexState{Running: true, IndexStatus: s.index.Status(ctx)}
		} else {
			idx <- IndexState{Running: s.search != nil}
		}
	}()
	st.Listeners = s.listenerStatus(now)
	type stored struct {
		redis    RedisStatus
		analyzer AnalyzerStatus
	}
	got, ok := within(ctx, bound, func(ctx context.Context) (r stored) {
		r.redis = s.redisStatus(ctx, full)
		if cyc, ok, err := s.records.LastCycle(ctx); err != nil {
			r.analyzer.Error = err.Error()
		} else if ok {
			age := now.Sub(cyc.Started).Seconds() - cyc.DurationS
			r.analyzer = AnalyzerStatus{Ran: true, Started: cyc.Started, AgeS: math.Round(age*10) / 10,
				Stale: age > staleCycle.Seconds(), DurationS: cyc.DurationS, Metrics: cyc.Metrics, Analysed: cyc.Analysed,
				Anomalies: cyc.Anomalies, Exceptions: cyc.Exceptions, Errors: cyc.Errors}
		}
		return r
	})
	if !ok {
		got.redis = RedisStatus{Addr: s.store.String(), Embedded: s.store.Embedded(), LatencyMS: float64(bound.Milliseconds()), Error: "timeout"}
		got.analyzer = AnalyzerStatus{Error: "not read: redis timeout"}
	}
	st.Redis, st.Analyzer = got.redis, got.analyzer
	select {
	case st.Index = <-idx:
	case <-ctx.Done():
		select {
		case st.Index = <-idx:
		default:
			st.Index = IndexState{Running: s.index != nil || s.search != nil}
		}
	}
	st.Webapp = WebappStatus{Version: s.version, UptimeS: math.Round(now.Sub(s.started).Seconds()), Writes: s.authSummary(), Charts: s.charts}
	return st
}

func (s *Server) redisStatus(ctx context.Context, full bool) RedisStatus {
	r := RedisStatus{Addr: s.store.String(), Embedded: s.store.Embedded()}
	t0 := time.Now()
	err := s.stats.Ping(ctx)
	r.LatencyMS = math.Round(float64(time.Since(t0).Microseconds())) / 1000
	if err != nil {
		r.Error = err.Error()
		if redisFailure(err) == "timeout" {
			r.Error = "timeout"
		}
		return r
	}
	r.Up = true
	r.Metrics, _ = s.stats.MetricCount(ctx)
	if full {
		info, _ := s.stats.ServerInfo(ctx)
		r.Keys = info.Keys
		for line := range strings.SplitSeq(info.Info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "redis_version":
				r.Version = v
			case "used_memory":
				r.UsedMemory = n
			case "used_memory_human":
				r.MemoryHuman = v
			case "used_memory_peak":
				r.PeakMemory = n
			case "maxmemory":
				r.MaxMemory = n
			}
		}
	}
	return r
}

// listenerStatus joins the listeners' states with their traffic counts.
func (s *Server) listenerStatus(now time.Time) []ListenerStatus {
	out := []ListenerStatus{}
	if s.listeners == nil {
		return out
	}
	var received, rejected map[string]float64
	if s.traffic != nil {
		received, rejected = s.traffic()
	}
	rates := s.rates.rates(received, now)
	for _, l := range s.listeners() {
		rate, ok := rates[l.Protocol]
		if !ok {
			rate = -1
		}
		out = append(out, ListenerStatus{Protocol: l.Protocol, Addr: l.Addr, Up: l.Up, Error: l.Error,
			Received: received[l.Protocol], Rejected: rejected[l.Protocol], Rate: rate})
	}
	return out
}

// rateSampler turns counter totals into per-second rates: each call records a sample (at most
// one every 2 s, kept for a minute) and rates are measured against the oldest sample at least
// a second old. Serve samples every 10 s, so the first look at the status page has a rate.
type rateSampler struct {
	mu      sync.Mutex
	samples []rateSample
}

type rateSample struct {
	at     time.Time
	totals map[string]float64
}

func (r *rateSampler) rates(totals map[string]float64, now time.Time) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.samples) > 1 && now.Sub(r.samples[0].at) > time.Minute {
		r.samples = r.samples[1:]
	}
	out := map[string]float64{}
	if len(r.samples) > 0 {
		old := r.samples[0]
		if dt := now.Sub(old.at).Seconds(); dt >= 1 {
			for k, v := range totals {
				if p, ok := old.totals[k]; ok && v >= p {
					out[k] = math.Round((v-p)/dt*10) / 10
				}
			}
		}
	}
	if n := len(r.samples); n == 0 || now.Sub(r.samples[n-1].at) >= 2*time.Second {
		r.samples = append(r.samples, rateSample{at: now, totals: maps.Clone(totals)})
	}
	return out
}
