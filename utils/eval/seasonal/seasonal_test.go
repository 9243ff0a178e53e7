package seasonal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

// kaleThreshold is the shipped --kale-threshold default.
const kaleThreshold = 0.63

func scoreKale(set []Series) [][]float64 {
	out := make([][]float64, len(set))
	for i, s := range set {
		k := algorithms.NewKale(algorithms.DefaultKaleConfig())
		out[i] = make([]float64, len(s.TS))
		for j, ts := range s.TS {
			out[i][j] = k.Update(ts, s.Values[j]).Score
		}
	}
	return out
}

func TestGenerateDeterministicAndNewPerSeed(t *testing.T) {
	a, err := Generate(DefaultOptions(1))
	require.NoError(t, err)
	b, err := Generate(DefaultOptions(1))
	require.NoError(t, err)
	c, err := Generate(DefaultOptions(2))
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Len(t, a, 18)
	require.NotEqual(t, a[0].Values, c[0].Values)
	anomalies := 0
	for _, s := range a {
		require.Len(t, s.TS, 14*1440)
		anomalies += len(s.Windows)
		for _, w := range s.Windows {
			require.Less(t, w[0], w[1])
			require.GreaterOrEqual(t, w[0], 7*1440, "anomalies come after a week to learn")
		}
	}
	require.Equal(t, 12, anomalies)
	_, err = Generate(Options{Days: 3, Interval: 60})
	require.Error(t, err)
}

// TestWeekdayStyle: the weekday style is deterministic per seed, puts its 12 anomalies on
// 10 series inside the second week, and rejects bad options.
func TestWeekdayStyle(t *testing.T) {
	o := DefaultOptions(5)
	o.Style = StyleWeekday
	a, err := Generate(o)
	require.NoError(t, err)
	b, err := Generate(o)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Len(t, a, 10)
	windows := 0
	for _, s := range a {
		require.Len(t, s.Values, 14*1440)
		for _, w := range s.Windows {
			windows++
			require.GreaterOrEqual(t, w[0], 7*1440, s.Name)
			require.Less(t, w[0], w[1], s.Name)
			require.Less(t, w[1], len(s.Values), s.Name)
		}
	}
	require.Equal(t, 12, windows)
	o.Series = 0
	_, err = Generate(o)
	require.Error(t, err)
	o.Style = "nope"
	_, err = Generate(o)
	require.ErrorContains(t, err, "unknown style")
}

func TestWriteNAB(t *testing.T) {
	o := DefaultOptions(3)
	o.Days, o.PerKind, o.Clean = 10, 1, 1
	set, err := Generate(o)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteNAB(dir, set))
	b, err := os.ReadFile(filepath.Join(dir, "labels", "combined_windows.json"))
	require.NoError(t, err)
	var w map[string][][2]string
	require.NoError(t, json.Unmarshal(b, &w))
	require.Len(t, w, 7)
	csv, err := os.ReadFile(filepath.Join(dir, "data", Category, set[0].Name))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	require.Equal(t, "timestamp,value", lines[0])
	require.Len(t, lines, 1+len(set[0].TS))
	require.Equal(t, w[Category+"/"+set[0].Name][0][0], strings.Split(lines[1+set[0].Windows[0][0]], ",")[0]+".000000")
}

func TestEvaluate(t *testing.T) {
	set := []Series{{Name: "a", Kind: "drop", TS: []float64{0, 86400}, Values: []float64{1, 1}, Windows: [][2]int{{1, 1}}}}
	r := Evaluate(set, [][]float64{{0.9, 0.7}}, 0.63)
	require.Equal(t, 1, r.Found)
	require.Equal(t, 1, r.FP)
	require.InDelta(t, 2.0, r.MetricDays, 1e-9)
	require.InDelta(t, 500.0, r.FPPer1000(), 1e-9)
	r = Evaluate(set, [][]float64{{0.5, 0.5}}, 0.63)
	require.Equal(t, 0, r.Found)
	require.Equal(t, []string{"a (drop)"}, r.Missed)
}

// TestKaleSeasonal scores the default kale detector on the sets of several seeds at the
// shipped threshold and logs found anomalies and false alarms (algorithms/README.md quotes
// these figures); KALE_SEASONAL_SEEDS (e.g. 1,2,3), KALE_SEASONAL_INTERVAL (seconds) and
// KALE_SEASONAL_STYLE (weekday) choose other sets. It checks the bar of issue 12 on the default seeds: at least 11 of 12
// found and at most 15 false alarms per 1,000 metric-days, summed over the seeds.
func TestKaleSeasonal(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if s := os.Getenv("KALE_SEASONAL_SEEDS"); s != "" {
		seeds = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.ParseUint(f, 10, 64)
			require.NoError(t, err)
			seeds = append(seeds, n)
		}
	}
	total := Result{Threshold: kaleThreshold}
	interval := 60
	if s := os.Getenv("KALE_SEASONAL_INTERVAL"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		interval = n
	}
	style := os.Getenv("KALE_SEASONAL_STYLE")
	for _, seed := range seeds {
		o := DefaultOptions(seed)
		o.Interval = interval
		o.Style = style
		set, err := Generate(o)
		require.NoError(t, err)
		r := Evaluate(set, scoreKale(set), kaleThreshold)
		t.Logf("seed %d: %s; missed %v; false alarms by kind %v", seed, r, r.Missed, r.FPByKind)
		total.Anomalies += r.Anomalies
		total.Found += r.Found
		total.FP += r.FP
		total.MetricDays += r.MetricDays
	}
	t.Logf("total: %s", total)
	if os.Getenv("KALE_SEASONAL_SEEDS") == "" && interval == 60 && style == "" {
		require.GreaterOrEqual(t, float64(total.Found), float64(total.Anomalies)*11/12)
		require.LessOrEqual(t, total.FPPer1000(), 15.0)
	}
}
