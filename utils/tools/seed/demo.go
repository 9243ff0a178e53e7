package seed

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/kale-project/kale/utils/metric"
)

// Kinds of demo metrics.
const (
	Gauge   = "gauge"   // a level that moves with the day and the week, plus noise
	Counter = "counter" // a monotonically increasing total (its rate follows the day)
	Flat    = "flat"    // a constant: detectors must leave it alone
)

// Anomalies injected near now, in the recent part that goes through the listeners.
const (
	Spike      = "spike"       // the last 3 datapoints jump to 6× the expected level
	Drop       = "drop"        // the last 4 datapoints fall to 5% of the expected level
	LevelShift = "level-shift" // the last 10 minutes sit 2.5× the base level higher
	NoisyBurst = "noisy-burst" // the last 6 minutes are 10× as noisy
)

// Series is one generated demo metric, its datapoints oldest first.
type Series struct {
	Name    string
	Kind    string // Gauge, Counter or Flat
	Anomaly string // "" or one of Spike, Drop, LevelShift, NoisyBurst
	Shape   string // metrics with the same non-empty Shape follow the same daily curve
	Points  []Point
}

// Point is one datapoint; counters, flat metrics and integer gauges carry an int, other
// gauges a float rounded to 3 decimals, so every wire format carries it exactly.
type Point struct {
	Timestamp int64
	Value     metric.Number
}

// spec describes how one demo metric's values are made. Relative amplitudes are fractions of
// base.
type spec struct {
	name    string
	kind    string
	shape   string  // neighbours for similarity search share a shape
	base    float64 // level (gauge), per-second rate (counter) or value (flat)
	daily   float64 // relative amplitude of the 24 h cycle
	peak    float64 // hour of the day (UTC) of the daily maximum
	weekly  float64 // relative amplitude of the 7-day cycle
	trend   float64 // relative change per day (negative: falling), in cycles of trendCycle
	noise   float64 // relative standard deviation of the Gaussian noise
	integer bool    // gauge values rounded to integers
	max     float64 // upper bound (0: none), e.g. 1 for a ratio
	anomaly string
}

// services are the metrics of the demo application; hostSpecs are repeated per host.
var services = []spec{
	{name: "demo.web.latency_ms", kind: Gauge, shape: "traffic", base: 85, daily: 0.25, peak: 14, noise: 0.04, anomaly: Spike},
	{name: "demo.web.requests", kind: Gauge, shape: "traffic", base: 1200, daily: 0.6, peak: 14, weekly: 0.1, noise: 0.03, anomaly: Drop},
	{name: "demo.db.latency_ms", kind: Gauge, base: 12, daily: 0.2, peak: 15, noise: 0.05, anomaly: LevelShift},
	{name: "demo.queue.depth", kind: Gauge, base: 40, daily: 0.5, peak: 10, noise: 0.08, integer: true, anomaly: NoisyBurst},
	{name: "demo.web.errors", kind: Gauge, base: 2.5, daily: 0.5, peak: 14, noise: 0.25},
	{name: "demo.db.qps", kind: Gauge, shape: "traffic", base: 3600, daily: 0.6, peak: 14, weekly: 0.1, noise: 0.03},
	{name: "demo.web.requests_total", kind: Counter, base: 1200, daily: 0.6, peak: 14},
	{name: "demo.db.connections", kind: Gauge, base: 40, daily: 0.3, peak: 14, noise: 0.05, integer: true},
	{name: "demo.queue.consumers", kind: Flat, base: 8},
	{name: "demo.cache.hit_ratio", kind: Gauge, base: 0.93, daily: 0.03, peak: 4, noise: 0.005, max: 1},
	{name: "demo.db.replication_lag_s", kind: Gauge, base: 0.8, daily: 0.4, peak: 14, noise: 0.2},
	{name: "demo.queue.processed_total", kind: Counter, base: 300, daily: 0.5, peak: 10},
	{name: "demo.config.replicas", kind: Flat, base: 3},
	{name: "demo.cache.evictions_total", kind: Counter, base: 15, daily: 0.4, peak: 14},
	{name: "demo.build.version", kind: Flat, base: 42},
	{name: "demo.web.bytes_out_total", kind: Counter, base: 250_000, daily: 0.6, peak: 14},
}

func hostSpecs(h int) []spec {
	host := fmt.Sprintf("host%02d", h)
	f := float64(h)
	return []spec{
		{name: "demo.cpu." + host + ".user", kind: Gauge, shape: "cpu", base: 30 + 4*f, daily: 0.45, peak: 14, noise: 0.06},
		{name: "demo.cpu." + host + ".system", kind: Gauge, shape: "cpu", base: 6 + f, daily: 0.4, peak: 14, noise: 0.08},
		{name: "demo.mem." + host + ".used_pct", kind: Gauge, shape: "memory", base: 55 + 3*f, daily: 0.05, peak: 16, weekly: 0.08, trend: 0.01, noise: 0.01, max: 100},
		{name: "demo.net." + host + ".bytes_in_total", kind: Counter, base: 40_000 + 5_000*f, daily: 0.6, peak: 14},
		{name: "demo.disk." + host + ".free_gb", kind: Gauge, shape: "disk", base: 500 - 20*f, trend: -0.01, noise: 0.0005},
	}
}

// catalog returns the specs of n metrics: the services first, then hosts 01, 02, … as needed.
func catalog(n int) []spec {
	out := append([]spec(nil), services...)
	for h := 1; len(out) < n; h++ {
		out = append(out, hostSpecs(h)...)
	}
	return out[:n]
}

// Generate returns the demo data set for o (defaults applied): o.Metrics series with
// datapoints every o.Step over o.History (the window's start excluded), then every
// o.RecentStep over the last o.Recent up to o.Now (aligned down to o.RecentStep). Values are a pure function of (o.Seed, metric,
// timestamp) and of o.Now for the anomalies, so two runs agree on every shared timestamp
// outside the anomalous tail.
func Generate(o Options) []Series {
	o.defaults()
	end := o.Now.Truncate(o.RecentStep).Unix()
	recentStep, step := int64(o.RecentStep/time.Second), int64(o.Step/time.Second)
	recentStart := end - int64(o.Recent/time.Second) + recentStep
	var ts []int64
	first := end - int64(o.History/time.Second)
	for t := ceilTo(first+1, step); t < recentStart; t += step {
		ts = append(ts, t)
	}
	for t := recentStart; t <= end; t += recentStep {
		ts = append(ts, t)
	}
	specs := catalog(o.Metrics)
	out := make([]Series, len(specs))
	for i, sp := range specs {
		s := Series{Name: sp.name, Kind: sp.kind, Anomaly: sp.anomaly, Shape: sp.shape, Points: make([]Point, len(ts))}
		for j, t := range ts {
			s.Points[j] = Point{Timestamp: t, Value: sp.value(o.Seed, t, end)}
		}
		out[i] = s
	}
	return out
}

// ceilTo rounds t up to a multiple of step.
func ceilTo(t, step int64) int64 {
	if r := t % step; r != 0 {
		return t - r + step
	}
	return t
}

const (
	day  = 86400.0
	week = 7 * day
	// counterEpoch keeps counter values moderate: they count from 2020-09-13.
	counterEpoch = 1_600_000_000
	// trendCycle is the period of the trends.
	trendCycle = 14 * day
)

// value is the metric's value at t for a run ending at end.
func (sp spec) value(seed uint64, t, end int64) metric.Number {
	ft := float64(t)
	phase := 2 * math.Pi * (ft - sp.peak*3600) / day
	switch sp.kind {
	case Flat:
		return metric.Int(int64(sp.base))
	case Counter:
		// The integral of base·(1 + daily·cos(phase)): increasing because daily < 1.
		total := sp.base * ((ft - counterEpoch) + sp.daily*day/(2*math.Pi)*math.Sin(phase))
		return metric.Int(int64(total))
	}
	// The trend runs in cycles of trendCycle (a leak until a restart, a disk filling until a
	// cleanup), centred on the base level, so values never depend on when the run happens.
	cycle := math.Mod(ft, trendCycle)
	level := 1 + sp.daily*math.Cos(phase) + sp.weekly*math.Sin(2*math.Pi*ft/week) + sp.trend*(cycle-trendCycle/2)/day
	noise := sp.noise
	if sp.anomaly == NoisyBurst && t > end-360 {
		noise *= 10
	}
	v := sp.base * level * (1 + noise*gauss(seed, sp.name, t))
	switch {
	case sp.anomaly == Spike && t > end-30:
		v = sp.base * (1 + sp.daily*math.Cos(phase)) * 6
	case sp.anomaly == Drop && t > end-40:
		v *= 0.05
	case sp.anomaly == LevelShift && t > end-600:
		v += 2.5 * sp.base
	}
	v = max(v, 0)
	if sp.max > 0 {
		v = min(v, sp.max)
	}
	if sp.integer {
		return metric.Int(int64(math.Round(v)))
	}
	return metric.Float(math.Round(v*1000) / 1000)
}

// gauss is a standard normal deviate determined by (seed, metric, t).
func gauss(seed uint64, name string, t int64) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed^h.Sum64(), uint64(t))).NormFloat64()
}
