package statsd

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// Config sets the aggregator. The zero value of a field means its default.
type Config struct {
	// Interval is the flush interval (--statsd-flush) that turns counts into per-second rates
	// (stats.<name>, count_ps), as Etsy's flushInterval does. Default 10 s.
	Interval time.Duration
	// Percentiles are Etsy's percentThreshold: for each p, the timers get upper_p, mean_p,
	// sum_p, count_p and sum_squares_p (lower_topP etc. for a negative p). Default [90].
	Percentiles []float64
	// MaxNames bounds the distinct keys held across all types (kept between flushes, as Etsy
	// keeps them); a sample for a new key over the cap is refused as ingest.TooManyMetrics.
	// Default 100 000.
	MaxNames int
	// MaxValues bounds the timer values and set members held until the next flush; values
	// over the cap are refused as ingest.TooManyMetrics. Default 1 000 000.
	MaxValues int
	// DeleteIdle drops, at each flush, the keys that received nothing since the previous flush
	// instead of sending them as zero (Etsy's deleteIdleStats; off by default, as in Etsy).
	DeleteIdle bool
}

// DefaultConfig returns Etsy statsd's defaults and Kale's memory bounds.
func DefaultConfig() Config {
	return Config{Interval: 10 * time.Second, Percentiles: []float64{90}, MaxNames: 100_000, MaxValues: 1_000_000}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Interval < time.Millisecond:
		return fmt.Errorf("statsd flush interval %v is below 1ms", c.Interval)
	case c.MaxNames < 1:
		return fmt.Errorf("statsd MaxNames %d must be positive", c.MaxNames)
	case c.MaxValues < 1:
		return fmt.Errorf("statsd MaxValues %d must be positive", c.MaxValues)
	}
	for _, p := range c.Percentiles {
		if p == 0 || p < -100 || p > 100 || math.IsNaN(p) {
			return fmt.Errorf("statsd percentile %v is outside [-100, 0) ∪ (0, 100]", p)
		}
	}
	return nil
}

type timer struct {
	values []float64
	count  float64 // Etsy's timer_counters: 1/rate per sample
}

type set struct{ members map[string]struct{} }

// Aggregator accumulates samples between flushes with Etsy statsd's semantics.
type Aggregator struct {
	cfg    Config
	pctKey []string // cleaned percentile names: "90", "99_9", "top10"

	mu       sync.Mutex
	counters map[string]float64
	gauges   map[string]float64
	timers   map[string]*timer
	sets     map[string]*set
	touched  map[string]struct{} // keys (with a kind prefix) updated since the last flush, for DeleteIdle
	names    int
	values   int
}

// New returns an aggregator; zero fields of cfg take DefaultConfig's values.
func New(cfg Config) (*Aggregator, error) {
	d := DefaultConfig()
	if cfg.Interval == 0 {
		cfg.Interval = d.Interval
	}
	if cfg.Percentiles == nil {
		cfg.Percentiles = d.Percentiles
	}
	if cfg.MaxNames == 0 {
		cfg.MaxNames = d.MaxNames
	}
	if cfg.MaxValues == 0 {
		cfg.MaxValues = d.MaxValues
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{
		cfg: cfg, counters: map[string]float64{}, gauges: map[string]float64{},
		timers: map[string]*timer{}, sets: map[string]*set{}, touched: map[string]struct{}{},
	}
	for _, p := range cfg.Percentiles {
		// Etsy: ('' + pct).replace('.', '_').replace('-', 'top').
		a.pctKey = append(a.pctKey, cleanPct(p))
	}
	return a, nil
}

func cleanPct(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	b := []byte(s)
	for i, c := range b {
		if c == '.' {
			b[i] = '_'
			break
		}
	}
	if b[0] == '-' {
		return "top" + string(b[1:])
	}
	return string(b)
}

// ErrTooManyNames and ErrTooManyValues are the refusals of Add (ingest.TooManyMetrics).
var (
	ErrTooManyNames  = errors.New("too many distinct statsd keys")
	ErrTooManyValues = errors.New("too many statsd timer values or set members held until the next flush")
)

// Ingest decodes one datagram and adds its samples. The returned *ingest.Error counts the
// lines the decoder rejected and the samples the aggregator refused.
func (a *Aggregator) Ingest(b []byte, lim ingest.Limits) (added int, err error) {
	var rej ingest.Rejects
	a.mu.Lock()
	defer a.mu.Unlock()
	derr := Decode(b, lim, func(s Sample) {
		if reason, err := a.addLocked(s); err != nil {
			rej.Add(reason, err)
			return
		}
		added++
	})
	if derr != nil {
		var e *ingest.Error
		if !errors.As(derr, &e) {
			return added, derr
		}
		for r, c := range e.Counts {
			for range c {
				rej.Add(ingest.Reason(r), e.First)
			}
		}
	}
	return added, rej.Err()
}

// Add adds one sample; a refusal returns its reason.
func (a *Aggregator) Add(s Sample) (ingest.Reason, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addLocked(s)
}

func (a *Aggregator) addLocked(s Sample) (ingest.Reason, error) {
	rate := s.Rate
	if rate <= 0 || rate > 1 {
		rate = 1
	}
	switch s.Kind {
	case Counter:
		if _, ok := a.counters[s.Name]; !ok {
			if err := a.newName(s.Name); err != nil {
				return ingest.TooManyMetrics, err
			}
		}
		a.counters[s.Name] += s.Value / rate
		a.touch('c', s.Name)
	case Gauge:
		if _, ok := a.gauges[s.Name]; !ok {
			if err := a.newName(s.Name); err != nil {
				return ingest.TooManyMetrics, err
			}
		}
		if s.Delta {
			a.gauges[s.Name] += s.Value
		} else {
			a.gauges[s.Name] = s.Value
		}
		a.touch('g', s.Name)
	case Timer:
		t := a.timers[s.Name]
		if t == nil {
			if err := a.newName(s.Name); err != nil {
				return ingest.TooManyMetrics, err
			}
			t = &timer{}
			a.timers[s.Name] = t
		}
		if a.values >= a.cfg.MaxValues {
			return ingest.TooManyMetrics, fmt.Errorf("cannot add to statsd timer %q: %w", s.Name, ErrTooManyValues)
		}
		a.values++
		t.values = append(t.values, s.Value)
		t.count += 1 / rate
		a.touch('t', s.Name)
	case Set:
		st := a.sets[s.Name]
		if st == nil {
			if err := a.newName(s.Name); err != nil {
				return ingest.TooManyMetrics, err
			}
			st = &set{members: map[string]struct{}{}}
			a.sets[s.Name] = st
		}
		if _, ok := st.members[s.Member]; !ok {
			if a.values >= a.cfg.MaxValues {
				return ingest.TooManyMetrics, fmt.Errorf("cannot add to statsd set %q: %w", s.Name, ErrTooManyValues)
			}
			a.values++
			st.members[s.Member] = struct{}{}
		}
		a.touch('s', s.Name)
	default:
		return ingest.BadType, fmt.Errorf("cannot add statsd sample %q: unknown kind %v", s.Name, s.Kind)
	}
	return 0, nil
}

func (a *Aggregator) newName(name string) error {
	if a.names >= a.cfg.MaxNames {
		return fmt.Errorf("cannot add statsd key %q: %w (limit %d)", name, ErrTooManyNames, a.cfg.MaxNames)
	}
	a.names++
	return nil
}

func (a *Aggregator) touch(kind byte, name string) {
	if a.cfg.DeleteIdle {
		a.touched[string(kind)+name] = struct{}{}
	}
}

// Flush returns the points of the interval that ends at now, named as Etsy's graphite
// backend names them (legacyNamespace, the default), all stamped with now in whole seconds,
// and resets the interval: counters to 0, timers and sets to empty; gauges keep their value.
// Keys are kept and sent again (as zero) at the next flush unless Config.DeleteIdle is set.
// Points come sorted by type, then key. A statistic that overflowed to ±Inf (sum_squares of
// huge timer values) is left out.
func (a *Aggregator) Flush(now time.Time) []metric.Point {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := metric.Int(now.Unix())
	secs := a.cfg.Interval.Seconds()
	var pts []metric.Point
	add := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // overflowed (1e300 timers squared): nothing to store
		}
		pts = append(pts, metric.Point{Name: name, Timestamp: ts, Value: metric.Float(v)})
	}
	idle := func(kind byte, name string) bool {
		if !a.cfg.DeleteIdle {
			return false
		}
		_, ok := a.touched[string(kind)+name]
		return !ok
	}

	for _, k := range slices.Sorted(maps.Keys(a.counters)) {
		if idle('c', k) {
			delete(a.counters, k)
			a.names--
			continue
		}
		v := a.counters[k]
		add("stats."+k, v/secs)
		add("stats_counts."+k, v)
		a.counters[k] = 0
	}
	for _, k := range slices.Sorted(maps.Keys(a.timers)) {
		t := a.timers[k]
		if idle('t', k) {
			delete(a.timers, k)
			a.names--
			continue
		}
		for _, st := range a.timerStats(t) {
			add("stats.timers."+k+"."+st.name, st.v)
		}
		t.values, t.count = t.values[:0], 0
	}
	for _, k := range slices.Sorted(maps.Keys(a.gauges)) {
		if idle('g', k) {
			delete(a.gauges, k)
			a.names--
			continue
		}
		add("stats.gauges."+k, a.gauges[k])
	}
	for _, k := range slices.Sorted(maps.Keys(a.sets)) {
		if idle('s', k) {
			delete(a.sets, k)
			a.names--
			continue
		}
		add("stats.sets."+k+".count", float64(len(a.sets[k].members)))
		clear(a.sets[k].members)
	}
	a.values = 0
	clear(a.touched)
	return pts
}

type stat struct {
	name string
	v    float64
}

// timerStats computes Etsy's timer statistics (lib/process_metrics.js) over one interval: the
// values sorted ascending; for each percentile p, n = round(|p|/100·count) values from the
// bottom (p > 0) or the top (p < 0), skipped when n is 0, with the cumulative sums taken in
// ascending order as Etsy does; std is the population standard deviation; median the middle
// value or the mean of the two middle ones; count and count_ps are the sample-rate-weighted
// count. A timer that received nothing sends only count and count_ps, as 0.
func (a *Aggregator) timerStats(t *timer) []stat {
	secs := a.cfg.Interval.Seconds()
	n := len(t.values)
	if n == 0 {
		return []stat{{"count", 0}, {"count_ps", 0}}
	}
	v := t.values
	slices.Sort(v)
	cum := make([]float64, n)
	cumSq := make([]float64, n)
	cum[0], cumSq[0] = v[0], v[0]*v[0]
	for i := 1; i < n; i++ {
		cum[i] = v[i] + cum[i-1]
		cumSq[i] = v[i]*v[i] + cumSq[i-1]
	}
	lo, hi := v[0], v[n-1]
	var out []stat
	for i, p := range a.cfg.Percentiles {
		num, sum, sumSq, mean, boundary := n, lo, lo*lo, lo, hi
		if n > 1 {
			num = int(math.Floor(math.Abs(p)/100*float64(n) + 0.5)) // JavaScript's Math.round
			if num == 0 {
				continue
			}
			if p > 0 {
				boundary, sum, sumSq = v[num-1], cum[num-1], cumSq[num-1]
			} else {
				boundary = v[n-num]
				sum = cum[n-1]
				sumSq = cumSq[n-1]
				if n-num-1 >= 0 {
					sum -= cum[n-num-1]
					sumSq -= cumSq[n-num-1]
				}
			}
			mean = sum / float64(num)
		}
		pk := a.pctKey[i]
		bound := "upper_"
		if p < 0 {
			bound = "lower_"
		}
		out = append(out,
			stat{"count_" + pk, float64(num)},
			stat{"mean_" + pk, mean},
			stat{bound + pk, boundary},
			stat{"sum_" + pk, sum},
			stat{"sum_squares_" + pk, sumSq},
		)
	}
	sum, sumSq := cum[n-1], cumSq[n-1]
	mean := sum / float64(n)
	var diffs float64
	for _, x := range v {
		diffs += (x - mean) * (x - mean)
	}
	mid := n / 2
	median := v[mid]
	if n%2 == 0 {
		median = (v[mid-1] + v[mid]) / 2
	}
	return append(out,
		stat{"std", math.Sqrt(diffs / float64(n))},
		stat{"upper", hi},
		stat{"lower", lo},
		stat{"count", t.count},
		stat{"count_ps", t.count / secs},
		stat{"sum", sum},
		stat{"sum_squares", sumSq},
		stat{"mean", mean},
		stat{"median", median},
	)
}
