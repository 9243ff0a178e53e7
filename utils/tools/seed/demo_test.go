package seed

import (
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 3, 4, 15, 7, 33, 0, time.UTC)

func TestGenerateLayout(t *testing.T) {
	series := Generate(Options{Now: testNow})
	require.Len(t, series, DefaultMetrics)
	end := testNow.Truncate(10 * time.Second).Unix()
	names := map[string]bool{}
	kinds := map[string]int{}
	name := regexp.MustCompile(`^[A-Za-z0-9._\-:;=+%@~#/,]+$`)
	for _, s := range series {
		require.Regexp(t, name, s.Name)
		require.False(t, names[s.Name], "duplicate %s", s.Name)
		names[s.Name] = true
		kinds[s.Kind]++

		// 24 h at 60 s, then the last 15 min at 10 s, ending at now aligned to 10 s.
		require.Len(t, s.Points, 1425+90, s.Name)
		require.Equal(t, end, s.Points[len(s.Points)-1].Timestamp)
		require.Equal(t, end-890, s.Points[1425].Timestamp)
		require.GreaterOrEqual(t, s.Points[0].Timestamp, end-86400)
		require.Zero(t, s.Points[0].Timestamp%60)
		for i := 1; i < len(s.Points); i++ {
			dt := s.Points[i].Timestamp - s.Points[i-1].Timestamp
			if i <= 1424 {
				require.Equal(t, int64(60), dt)
			} else if i > 1425 {
				require.Equal(t, int64(10), dt)
			}
		}
		for _, p := range s.Points {
			v := p.Value.Float64()
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
			require.GreaterOrEqual(t, v, 0.0, s.Name)
			if !p.Value.IsInt {
				require.Equal(t, math.Round(v*1000)/1000, v, "%s: float with more than 3 decimals", s.Name)
			}
		}
		switch s.Kind {
		case Counter:
			for i := 1; i < len(s.Points); i++ {
				require.Greater(t, s.Points[i].Value.I, s.Points[i-1].Value.I, "%s must increase", s.Name)
			}
		case Flat:
			for _, p := range s.Points {
				require.Equal(t, s.Points[0].Value, p.Value)
			}
		}
	}
	require.Equal(t, map[string]int{Gauge: 25, Counter: 8, Flat: 3}, kinds)
	require.True(t, names["demo.web.requests"] && names["demo.db.latency_ms"] && names["demo.queue.depth"] && names["demo.cpu.host01.user"])

	more := Generate(Options{Now: testNow, Metrics: 50, History: time.Hour, Step: 30 * time.Second})
	require.Len(t, more, 50)
	require.Equal(t, "demo.cpu.host07.user", more[46].Name)
	require.Len(t, more[0].Points, 90+90)
}

// Values depend on (seed, metric, timestamp) only, so two runs an hour apart agree on every
// shared timestamp (away from the anomalous tail), and another seed gives other noise.
func TestGenerateDeterministic(t *testing.T) {
	a := Generate(Options{Now: testNow})
	require.Equal(t, a, Generate(Options{Now: testNow}))
	b := Generate(Options{Now: testNow.Add(time.Hour)})
	for i := range a {
		at := map[int64]float64{}
		for _, p := range a[i].Points {
			at[p.Timestamp] = p.Value.Float64()
		}
		shared := 0
		for _, p := range b[i].Points {
			if v, ok := at[p.Timestamp]; ok && p.Timestamp < testNow.Unix()-900 {
				require.Equal(t, v, p.Value.Float64(), "%s at %d", a[i].Name, p.Timestamp)
				shared++
			}
		}
		require.Greater(t, shared, 1000)
	}
	c := Generate(Options{Now: testNow, Seed: 7})
	require.NotEqual(t, a[0].Points[100].Value, c[0].Points[100].Value)
}

func TestGenerateAnomalies(t *testing.T) {
	series := Generate(Options{Now: testNow})
	by := map[string]Series{}
	for _, s := range series {
		by[s.Anomaly] = s
	}
	values := func(s Series, from, to int) []float64 { // points [len-from, len-to)
		var out []float64
		for _, p := range s.Points[len(s.Points)-from : len(s.Points)-to] {
			out = append(out, p.Value.Float64())
		}
		return out
	}
	before := func(s Series, skip int) float64 { return mean(values(s, skip+30, skip)) }

	spike := by[Spike]
	for _, v := range values(spike, 3, 0) {
		require.Greater(t, v, 4*before(spike, 3), "spike in %s", spike.Name)
	}
	drop := by[Drop]
	for _, v := range values(drop, 4, 0) {
		require.Less(t, v, 0.1*before(drop, 4), "drop in %s", drop.Name)
	}
	shift := by[LevelShift]
	require.Greater(t, mean(values(shift, 60, 0)), 2.5*before(shift, 60), "level shift in %s", shift.Name)
	burst := by[NoisyBurst]
	require.Greater(t, stddev(values(burst, 36, 0)), 4*stddev(values(burst, 72, 36)), "noisy burst in %s", burst.Name)
}

// Metrics of one shape are neighbours for a similarity search: their 24 h curves correlate.
func TestGenerateSharedShapes(t *testing.T) {
	series := Generate(Options{Now: testNow})
	var cpu [][]float64
	for _, s := range series {
		if s.Shape == "cpu" {
			var v []float64
			for _, p := range s.Points[:1425] {
				v = append(v, p.Value.Float64())
			}
			cpu = append(cpu, v)
		}
	}
	require.Len(t, cpu, 8)
	for _, v := range cpu[1:] {
		require.Greater(t, correlation(cpu[0], v), 0.9)
	}
	var flat, other []float64
	for _, s := range series {
		switch s.Name {
		case "demo.cpu.host01.user":
			for _, p := range s.Points[:1425] {
				flat = append(flat, p.Value.Float64())
			}
		case "demo.disk.host01.free_gb":
			for _, p := range s.Points[:1425] {
				other = append(other, p.Value.Float64())
			}
		}
	}
	require.Less(t, math.Abs(correlation(flat, other)), 0.5, "unrelated shapes stay apart")
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func stddev(v []float64) float64 {
	m, s := mean(v), 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)))
}

func correlation(a, b []float64) float64 {
	ma, mb, sa, sb := mean(a), mean(b), stddev(a), stddev(b)
	c := 0.0
	for i := range a {
		c += (a[i] - ma) * (b[i] - mb)
	}
	return c / float64(len(a)) / sa / sb
}

func TestRecentPart(t *testing.T) {
	s := Series{Points: []Point{{Timestamp: 10}, {Timestamp: 20}, {Timestamp: 30}}}
	require.Equal(t, []Point{{Timestamp: 30}}, recentPart(s, 20).Points)
	require.Len(t, recentPart(s, 5).Points, 3)
	require.Empty(t, recentPart(s, 30).Points)
	require.True(t, slices.Equal(s.Points, []Point{{Timestamp: 10}, {Timestamp: 20}, {Timestamp: 30}}))
}
