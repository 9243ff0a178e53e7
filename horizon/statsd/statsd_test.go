package statsd

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

var counts = ingesttest.Counts

func decodeAll(b string, lim ingest.Limits) ([]Sample, error) {
	var got []Sample
	err := Decode([]byte(b), lim, func(s Sample) { got = append(got, s) })
	return got, err
}

func TestDecodeGood(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Sample
	}{
		{"x:1|c", []Sample{{Name: "x", Kind: Counter, Value: 1, Rate: 1}}},
		{"x:|c\n", []Sample{{Name: "x", Kind: Counter, Value: 1, Rate: 1}}},
		{"x:3|c|@0.1\r\n", []Sample{{Name: "x", Kind: Counter, Value: 3, Rate: 0.1}}},
		{"g:42|g\ng:+3|g\ng:-2.5|g", []Sample{
			{Name: "g", Kind: Gauge, Value: 42, Rate: 1},
			{Name: "g", Kind: Gauge, Value: 3, Delta: true, Rate: 1},
			{Name: "g", Kind: Gauge, Value: -2.5, Delta: true, Rate: 1}}},
		{"t:320|ms|@0.5\nh:1|h", []Sample{{Name: "t", Kind: Timer, Value: 320, Rate: 0.5}, {Name: "h", Kind: Timer, Value: 1, Rate: 1}}},
		{"u:alice|s", []Sample{{Name: "u", Kind: Set, Member: "alice", Rate: 1}}},
		{"multi:1|c:20|ms", []Sample{{Name: "multi", Kind: Counter, Value: 1, Rate: 1}, {Name: "multi", Kind: Timer, Value: 20, Rate: 1}}},
		{"my key/with  spaces!é:1|c", []Sample{{Name: "my_key-with_spaces", Kind: Counter, Value: 1, Rate: 1}}},
		{"\n\n  \nx:1|c\n\n", []Sample{{Name: "x", Kind: Counter, Value: 1, Rate: 1}}},
	} {
		got, err := decodeAll(tc.in, ingest.DefaultLimits())
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func TestDecodeBad(t *testing.T) {
	for _, tc := range []struct {
		in       string
		lim      *ingest.Limits
		rejected map[ingest.Reason]int
	}{
		{"x", nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"x:1", nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"x:1|q", nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"x:1|c|0.5", nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"x:1|c|@0\nx:1|c|@2\nx:1|c|@", nil, map[ingest.Reason]int{ingest.Malformed: 3}},
		{"x:1|c|#tag:a", nil, map[ingest.Reason]int{ingest.Malformed: 2}}, // DogStatsD: the ':' splits the group too
		{"x:1|c|@1|x", nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"x:abc|ms\nx:0x10|g\nx:nan|c", nil, map[ingest.Reason]int{ingest.Malformed: 3}},
		{"x:1e400|ms", nil, map[ingest.Reason]int{ingest.NotFinite: 1}},
		{"!!!:1|c\n:1|c", nil, map[ingest.Reason]int{ingest.BadName: 2}},
		{strings.Repeat("k", 224) + ":1|c", nil, map[ingest.Reason]int{ingest.NameTooLong: 1}},
		{"x:1|c", &ingest.Limits{MaxNameLen: 255, MaxItems: 1, MaxPayload: 3}, map[ingest.Reason]int{ingest.TooLarge: 1}},
	} {
		lim := ingest.DefaultLimits()
		if tc.lim != nil {
			lim = *tc.lim
		}
		got, err := decodeAll(tc.in+"\ngood:1|c", lim)
		var e *ingest.Error
		require.ErrorAs(t, err, &e, "%q", tc.in)
		require.Equal(t, counts(tc.rejected), e.Counts, "%q: %v", tc.in, err)
		if tc.lim == nil {
			require.Equal(t, []Sample{{Name: "good", Kind: Counter, Value: 1, Rate: 1}}, got, "%q", tc.in)
		}
	}
}

func newAgg(t *testing.T, cfg Config) *Aggregator {
	t.Helper()
	a, err := New(cfg)
	require.NoError(t, err)
	return a
}

func byName(pts []metric.Point) map[string]float64 {
	m := map[string]float64{}
	for _, p := range pts {
		m[p.Name] = p.Value.Float64()
	}
	return m
}

var t0 = time.Unix(1700000000, 400_000_000)

func TestCountersGaugesSets(t *testing.T) {
	a := newAgg(t, Config{Interval: 2 * time.Second})
	for range 10 {
		_, err := a.Ingest([]byte("x:1|c"), ingest.DefaultLimits())
		require.NoError(t, err)
	}
	_, err := a.Ingest([]byte("sampled:1|c|@0.1\ng:10|g\ng:+5|g\ng:-3|g\nu:a|s\nu:b|s\nu:a|s"), ingest.DefaultLimits())
	require.NoError(t, err)
	pts := a.Flush(t0)
	for _, p := range pts {
		require.Equal(t, metric.Int(1700000000), p.Timestamp)
	}
	require.Equal(t, map[string]float64{
		"stats.x": 5, "stats_counts.x": 10,
		"stats.sampled": 5, "stats_counts.sampled": 10,
		"stats.gauges.g":     12,
		"stats.sets.u.count": 2,
	}, byName(pts))

	// Etsy's defaults: counters and sets go on as zero, gauges keep their value.
	_, err = a.Ingest([]byte("g:+1|g"), ingest.DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, map[string]float64{
		"stats.x": 0, "stats_counts.x": 0, "stats.sampled": 0, "stats_counts.sampled": 0,
		"stats.gauges.g": 13, "stats.sets.u.count": 0,
	}, byName(a.Flush(t0.Add(2*time.Second))))
}

func TestTimers(t *testing.T) {
	a := newAgg(t, Config{Interval: 10 * time.Second})
	var sb strings.Builder
	for i := 1; i <= 10; i++ {
		sb.WriteString("t:" + strconv.Itoa(i*10) + "|ms\n")
	}
	sb.WriteString("one:7|ms|@0.5\n")
	_, err := a.Ingest([]byte(sb.String()), ingest.DefaultLimits())
	require.NoError(t, err)
	got := byName(a.Flush(t0))
	// 10, 20, …, 100: Etsy's process_metrics with percentThreshold [90].
	for k, want := range map[string]float64{
		"upper": 100, "lower": 10, "count": 10, "count_ps": 1, "sum": 550, "mean": 55, "median": 55,
		"upper_90": 90, "mean_90": 50, "sum_90": 450, "count_90": 9, "sum_squares_90": 28500,
		"sum_squares": 38500, "std": math.Sqrt(825),
	} {
		require.InDelta(t, want, got["stats.timers.t."+k], 1e-9, k)
	}
	// One value: every percentile is that value; the count honours the sample rate.
	for k, want := range map[string]float64{"upper": 7, "upper_90": 7, "mean_90": 7, "count": 2, "count_ps": 0.2, "std": 0, "median": 7} {
		require.InDelta(t, want, got["stats.timers.one."+k], 1e-9, k)
	}
	// Idle: count and count_ps only.
	require.Equal(t, map[string]float64{"stats.timers.t.count": 0, "stats.timers.t.count_ps": 0,
		"stats.timers.one.count": 0, "stats.timers.one.count_ps": 0}, byName(a.Flush(t0)))
}

func TestTimerPercentileForms(t *testing.T) {
	a := newAgg(t, Config{Percentiles: []float64{-10, 99.9}})
	for i := 1; i <= 10; i++ {
		_, err := a.Add(Sample{Name: "t", Kind: Timer, Value: float64(i), Rate: 1})
		require.NoError(t, err)
	}
	got := byName(a.Flush(t0))
	require.Equal(t, 10.0, got["stats.timers.t.lower_top10"])
	require.Equal(t, 10.0, got["stats.timers.t.sum_top10"])
	require.Equal(t, 10.0, got["stats.timers.t.upper_99_9"])
	require.Equal(t, 55.0, got["stats.timers.t.sum_99_9"])
}

func TestLimits(t *testing.T) {
	a := newAgg(t, Config{MaxNames: 2, MaxValues: 3})
	n, err := a.Ingest([]byte("a:1|c\nb:1|g\nc:1|c\na:2|c\nt:1|ms"), ingest.DefaultLimits())
	require.Equal(t, 3, n)
	var e *ingest.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, counts(map[ingest.Reason]int{ingest.TooManyMetrics: 2}), e.Counts)
	require.ErrorIs(t, err, ErrTooManyNames)

	a = newAgg(t, Config{MaxValues: 2})
	_, err = a.Ingest([]byte("t:1|ms\nt:2|ms\nt:3|ms\ns:x|s\nbad"), ingest.DefaultLimits())
	require.ErrorAs(t, err, &e)
	require.Equal(t, counts(map[ingest.Reason]int{ingest.TooManyMetrics: 2, ingest.Malformed: 1}), e.Counts)
	a.Flush(t0)
	_, err = a.Ingest([]byte("t:1|ms\nt:2|ms"), ingest.DefaultLimits())
	require.NoError(t, err, "the value budget is per flush")
}

func TestDeleteIdle(t *testing.T) {
	a := newAgg(t, Config{DeleteIdle: true, MaxNames: 1})
	_, err := a.Ingest([]byte("a:1|c"), ingest.DefaultLimits())
	require.NoError(t, err)
	require.Len(t, a.Flush(t0), 2)
	require.Empty(t, a.Flush(t0))
	_, err = a.Ingest([]byte("b:1|g"), ingest.DefaultLimits())
	require.NoError(t, err, "the idle key's slot was freed")
}

func TestConfigValidate(t *testing.T) {
	_, err := New(Config{Percentiles: []float64{0}})
	require.ErrorContains(t, err, "percentile")
	_, err = New(Config{Interval: time.Microsecond})
	require.ErrorContains(t, err, "interval")
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"x:1|c\ng:+3|g\nt:320|ms|@0.5\nu:a|s", "multi:1|c:20|ms", "x:|c|@0\n!!:1|c", "x:1e400|h|@1|x"} {
		f.Add([]byte(s))
	}
	lim := ingest.Limits{MaxNameLen: 64, MaxItems: 100, MaxPayload: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := New(Config{MaxNames: 8, MaxValues: 16})
		require.NoError(t, err)
		_, err = a.Ingest(b, lim)
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		}
		for _, p := range a.Flush(t0) {
			require.NoError(t, metric.CheckName(p.Name, lim.MaxNameLen))
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()), p.Name)
		}
	})
}
