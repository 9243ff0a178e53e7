package webapp

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kale-project/kale/utils/redisstore"
)

// num is a float64 that encodes like encoding/json (no exponent below 1e21) and NaN/±Inf as
// null, so Skyline clients get 1700000000 rather than 1.7e+09 and a stored NaN cannot break
// an answer.
type num float64

func appendNum(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// MarshalJSON implements json.Marshaler.
func (n num) MarshalJSON() ([]byte, error) { return appendNum(nil, float64(n)), nil }

// points is a series encoded as [[ts, v], …] without reflection (series answers can be large).
type points []redisstore.Pair

// MarshalJSON implements json.Marshaler.
func (p points) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(p)*24)
	b = append(b, '[')
	for i, pt := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendNum(b, pt.Timestamp)
		b = append(b, ',')
		b = appendNum(b, pt.Value)
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// loadSeries reads a metric and returns its points in time order (Roomba sorts stored series,
// but points appended since its last pass may be out of order). A reserved name is
// ErrNoMetric like an unknown one.
func (s *Server) loadSeries(ctx context.Context, name string) ([]redisstore.Pair, error) {
	if s.store.ReservedName(name) { // Kale's own keys ("unique_metrics" is a set): no such metric
		return nil, fmt.Errorf("%w: %q", redisstore.ErrNoMetric, name)
	}
	pts, _, err := s.store.Series(ctx, name)
	if err != nil {
		return nil, err
	}
	sortByTime(pts)
	return pts, nil
}

func sortByTime(pts []redisstore.Pair) {
	if !slices.IsSortedFunc(pts, byTime) {
		slices.SortStableFunc(pts, byTime)
	}
}

func byTime(a, b redisstore.Pair) int {
	switch {
	case a.Timestamp < b.Timestamp:
		return -1
	case a.Timestamp > b.Timestamp:
		return 1
	}
	return 0
}

// window keeps the points with from <= ts <= until (zero bounds are open).
func window(pts []redisstore.Pair, from, until float64) []redisstore.Pair {
	lo, hi := 0, len(pts)
	if from != 0 {
		lo = sort.Search(len(pts), func(i int) bool { return pts[i].Timestamp >= from })
	}
	if until != 0 {
		hi = sort.Search(len(pts), func(i int) bool { return pts[i].Timestamp > until })
	}
	if lo > hi {
		return pts[:0]
	}
	return pts[lo:hi]
}

// downsample reduces pts to at most n points by averaging equal-count buckets; the last
// point is kept exactly, so a final spike stays visible.
func downsample(pts []redisstore.Pair, n int) []redisstore.Pair {
	if n <= 1 || len(pts) <= n {
		return pts
	}
	out := make([]redisstore.Pair, 0, n)
	body := pts[:len(pts)-1]
	buckets := n - 1
	for b := range buckets {
		lo, hi := b*len(body)/buckets, (b+1)*len(body)/buckets
		if hi <= lo {
			continue
		}
		var ts, v float64
		cnt := 0
		for _, p := range body[lo:hi] {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			v += p.Value
			cnt++
		}
		ts = body[hi-1].Timestamp
		if cnt == 0 {
			v = math.NaN()
		} else {
			v /= float64(cnt)
		}
		out = append(out, redisstore.Pair{Timestamp: ts, Value: v})
	}
	return append(out, pts[len(pts)-1])
}

// Band is the range a metric's latest value was expected in: Skyline's
// stddev_from_moving_average band, the exponentially weighted moving average (com = 50) of
// the points before the latest ± 3 exponentially weighted standard deviations.
type Band struct {
	Lower num `json:"lower"`
	Upper num `json:"upper"`
}

// ewmCom is Skyline's EWMA centre of mass; the UI's band uses the same.
const ewmCom = 50

// bandLead is how long before the latest point the band is taken, so the anomalous run
// itself (a spike lasts a few points, a level shift minutes) does not widen what was expected.
const bandLead = 300

// expectedBand computes Band over the points up to bandLead seconds before the latest one
// (all but the latest when the series is shorter); nil with fewer than 3 points.
func expectedBand(pts []redisstore.Pair) *Band {
	if len(pts) < 3 {
		return nil
	}
	before := window(pts, 0, pts[len(pts)-1].Timestamp-bandLead)
	if len(before) < 3 {
		before = pts[:len(pts)-1]
	}
	alpha := 1 / (1 + float64(ewmCom))
	mean, variance := math.NaN(), 0.0
	for _, p := range before {
		v := p.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if math.IsNaN(mean) {
			mean = v
			continue
		}
		d := v - mean
		incr := alpha * d
		mean += incr
		variance = (1 - alpha) * (variance + d*incr)
	}
	if math.IsNaN(mean) {
		return nil
	}
	sd := math.Sqrt(variance)
	return &Band{Lower: num(mean - 3*sd), Upper: num(mean + 3*sd)}
}

// parseTime reads a time parameter: unix seconds, unix milliseconds (Grafana's ${__from}),
// RFC 3339, "now", or "now-1h" / "-1h" relative to now. Empty gives 0 (open).
func parseTime(v string, now time.Time) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if f > 1e11 { // milliseconds: 1e11 s is the year 5138
			f /= 1000
		}
		return f, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return float64(t.UnixNano()) / 1e9, nil
	}
	rel := strings.TrimPrefix(v, "now")
	if rel == "" {
		return float64(now.Unix()), nil
	}
	if strings.HasPrefix(rel, "-") || strings.HasPrefix(rel, "+") {
		d, err := parseDuration(rel[1:])
		if err == nil {
			if rel[0] == '-' {
				d = -d
			}
			return float64(now.Add(d).Unix()), nil
		}
	}
	return 0, fmt.Errorf("cannot parse time %q: use unix seconds or milliseconds, RFC 3339, now or now-1h", v)
}

// parseDuration accepts Go durations plus days ("7d").
func parseDuration(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(v)
}
