package algorithms

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// testNow is the clock of the hand-made series: 2014-05-13, an epoch like the golden data's.
const testNow = 1_400_000_000.0

// minutely returns one point per minute ending at testNow, with the values of pattern
// repeated, then tail as the last values.
func minutely(n int, pattern []float64, tail ...float64) []Point {
	s := make([]Point, n)
	for i := range s {
		s[i] = Point{Timestamp: testNow - float64(60*(n-1-i)), Value: pattern[i%len(pattern)]}
	}
	for i, v := range tail {
		s[n-len(tail)+i].Value = v
	}
	return s
}

// normalDay is a day of values cycling 10, 11, 12, ending with 10, 11, 12; spikeDay ends
// with 100 instead.
func normalDay() []Point { return minutely(1440, []float64{10, 11, 12}) }

func spikeDay() []Point { return minutely(1440, []float64{10, 11, 12}, 100) }

// specSeries is the series of Skyline's own unit tests (spec §3.9): 86,401 points one
// second apart ending at now, all 1 except the last, 1000.
func specSeries() ([]Point, float64) {
	const n = 86401
	s := make([]Point, n)
	for i := range s {
		s[i] = Point{Timestamp: testNow - 86400 + float64(i), Value: 1}
	}
	s[n-1].Value = 1000
	return s, testNow
}

func TestSpecVectors(t *testing.T) {
	series, now := specSeries()
	cfg := SkylineCompatSettings()
	cfg.TailAvgIntDiv = true // the Python 2 unit test fed integers
	require.Equal(t, 334.0, TailAvg(series, true))

	want := map[string]Verdict{
		"first_hour_average":          Yes,
		"mean_subtraction_cumulation": Yes,
		"stddev_from_average":         Yes,
		"stddev_from_moving_average":  Yes,
		"least_squares":               Yes,
		"grubbs":                      Yes,
		"histogram_bins":              Yes, // 334 sits on the lower edge of the empty bin 5
		"median_absolute_deviation":   No,  // MAD is 0: a real False, not None
		"ks_test":                     No,  // D is about 1/600
	}
	registry := Registry()
	for name, verdict := range want {
		v := registry[name](series, now, &cfg)
		require.NoError(t, v.Err, name)
		require.Equal(t, verdict, v.Verdict, name)
	}
	_, h := histogramBins(series, now, &cfg)
	require.Equal(t, 334.0, h.edges[5])
	require.Equal(t, 0, h.counts[5])

	res, err := RunSelected(series, now, &cfg)
	require.NoError(t, err)
	require.True(t, res.Anomalous)
	require.GreaterOrEqual(t, res.Triggered, 6)
	require.Equal(t, 1000.0, res.Value)
	require.Equal(t, 334.0, res.TailAvg)
}

func TestTailAvg(t *testing.T) {
	pts := func(vs ...float64) []Point {
		s := make([]Point, len(vs))
		for i, v := range vs {
			s[i] = Point{Timestamp: float64(i), Value: v}
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		series []Point
		intDiv bool
		want   float64
	}{
		{"one point", pts(7), false, 7},
		{"two points: the last", pts(3, 7), false, 7},
		{"three points", pts(1, 1, 2), false, 4.0 / 3},
		{"last three only", pts(100, 1, 1, 2), false, 4.0 / 3},
		{"left to right from the last", pts(0.1, 0.2, 0.3), false, 0.19999999999999998}, // not 0.20000000000000004
		{"int division floors", pts(1, 1, 2), true, 1},
		{"int division of negatives floors", pts(-1, -1, -2), true, -2},
		{"spec vector", pts(1, 1, 1000), true, 334},
		{"floats ignore int division", pts(1, 1, 2.5), true, 4.5 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TailAvg(tc.series, tc.intDiv))
		})
	}
	require.True(t, math.IsNaN(TailAvg(nil, false)))
}

// detectorCase is one row of the detector table tests.
type detectorCase struct {
	name    string
	series  []Point
	want    Verdict
	wantErr bool
}

func runDetectorCases(t *testing.T, d Detector, cfg Settings, cases []detectorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := d(tc.series, testNow, &cfg)
			if tc.wantErr {
				require.Error(t, v.Err)
				require.Equal(t, No, v.Verdict)
				return
			}
			require.NoError(t, v.Err)
			require.Equal(t, tc.want, v.Verdict, "score %v threshold %v", v.Score, v.Threshold)
		})
	}
}

func TestFirstHourAverage(t *testing.T) {
	runDetectorCases(t, FirstHourAverage, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"no first hour: NaN std", minutely(60, []float64{10, 12}, 100), No, false},
		{"empty", nil, No, true},
	})

	// The window is ts < now - 82800, strictly, in any order.
	cut := testNow - (86400 - 3600)
	series := []Point{{cut - 60, 1}, {cut, 1000}, {cut - 120, 3}, {testNow, 2}}
	cfg := DefaultSettings()
	v, st := firstHourAverage(series, testNow, &cfg)
	require.Equal(t, 2, st.n)
	require.Equal(t, 2.0, st.mean)
	require.Equal(t, math.Sqrt2, st.std)
	require.Equal(t, Yes, v.Verdict) // tail_avg (2+3+1000)/3 is far from 2
}

func TestMeanSubtractionCumulation(t *testing.T) {
	runDetectorCases(t, MeanSubtractionCumulation, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"two points: std of one value is NaN", minutely(2, []float64{1}, 100), No, false},
		{"empty", nil, No, true},
	})
}

func TestStddevFromAverage(t *testing.T) {
	runDetectorCases(t, StddevFromAverage, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"one point", minutely(1, []float64{5}), No, false},
		{"empty", nil, No, true},
	})
}

func TestStddevFromMovingAverage(t *testing.T) {
	runDetectorCases(t, StddevFromMovingAverage, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"one point", minutely(1, []float64{5}), No, false},
		{"empty", nil, No, true},
	})

	// The recursions equal the closed forms: weights w^(n-1-i), w = 50/51, and the
	// bias-corrected weighted variance.
	series := minutely(5, []float64{3, 1, 4, 1, 5})
	w := 50.0 / 51
	var sw, sw2, swx float64
	for i, p := range series {
		wi := math.Pow(w, float64(len(series)-1-i))
		sw += wi
		sw2 += wi * wi
		swx += wi * p.Value
	}
	mean := swx / sw
	var swd float64
	for i, p := range series {
		wi := math.Pow(w, float64(len(series)-1-i))
		swd += wi * (p.Value - mean) * (p.Value - mean)
	}
	variance := swd / sw * sw * sw / (sw*sw - sw2)
	require.InDelta(t, mean, ewmMean(series, ewmCom), 1e-13)
	require.InDelta(t, variance, ewmVar(series, ewmCom), 1e-12)
}

func TestLeastSquares(t *testing.T) {
	line := minutely(1440, []float64{0})
	for i := range line {
		line[i].Value = 2e-3 * (line[i].Timestamp - testNow)
	}
	jump := minutely(1440, []float64{10, 12}, 100, 100, 100)
	tiny := minutely(1440, []float64{0.01, -0.01}, 0.1, 0.1, 0.1)
	runDetectorCases(t, LeastSquares, DefaultSettings(), []detectorCase{
		{"exact line", line, No, false},
		{"jump at the end", jump, Yes, false},
		{"normal", normalDay(), No, false},
		{"round(std) == 0", tiny, No, false},
		{"two points", minutely(2, []float64{1, 100}), No, false},
		{"empty: no error, like numpy", nil, No, false},
	})

	// At epoch timestamps a handful of minutely points make lstsq truncate to rank 1.
	cfg := DefaultSettings()
	_, st := leastSquares(minutely(3, []float64{6.5, 4.8, 3.3}), testNow, &cfg)
	require.True(t, st.rank1)
	_, st = leastSquares(minutely(1440, []float64{6.5, 4.8, 3.3}), testNow, &cfg)
	require.False(t, st.rank1)

	// The golden case syn-short-len3, whose numpy fit is the rank-1 minimum-norm solution.
	s := []Point{{1404500780, 6.488035936427501}, {1404500840, 4.761102353210803}, {1404500900, 3.257005182506415}}
	_, st = leastSquares(s, 1404500903, &cfg)
	require.True(t, st.rank1)
	require.InEpsilon(t, 3.442775521139526e-09, st.m, 1e-6)
	require.InDelta(t, 1.3201082294470157, st.std, 1e-6)
}

func TestGrubbs(t *testing.T) {
	runDetectorCases(t, Grubbs, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"two points: no critical value", minutely(2, []float64{1, 100}), No, false},
		{"flat: NaN z", minutely(100, []float64{4}), No, false},
		{"empty", nil, No, true},
	})
	// scipy.stats.t.isf(0.05/2880, 1438), as the golden data record it.
	require.InEpsilon(t, 4.153148190828482, studentTISF(0.05/2880, 1438), 1e-12)
	require.True(t, math.IsNaN(studentTISF(0.05/4, 0)))
}

func TestHistogramBins(t *testing.T) {
	runDetectorCases(t, HistogramBins, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal", normalDay(), No, false},
		{"between the modes of a bimodal series", minutely(1440, []float64{10, 12}), Yes, false},
		{"flat", minutely(100, []float64{4}), No, false},
		{"NaN value: numpy raises", minutely(100, []float64{4, math.NaN()}), No, true},
		{"infinite value: numpy raises", minutely(100, []float64{4}, math.Inf(1)), No, true},
		{"empty", nil, No, true},
	})

	// np.histogram edges and counts, including the closed last bin.
	var edges [histogramNumBins + 1]float64
	var counts [histogramNumBins]int
	require.NoError(t, numpyHistogram(minutely(16, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), &edges, &counts))
	require.Equal(t, 0.0, edges[0])
	require.Equal(t, 15.0, edges[15])
	require.Equal(t, [histogramNumBins]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, counts)
	// min == max: the range widens by 0.5 on each side.
	require.NoError(t, numpyHistogram(minutely(3, []float64{2}), &edges, &counts))
	require.Equal(t, 1.5, edges[0])
	require.Equal(t, 2.5, edges[15])
}

func TestMedianAbsoluteDeviation(t *testing.T) {
	outlier := minutely(101, []float64{3}, 3)
	outlier[50].Value = 1000
	runDetectorCases(t, MedianAbsoluteDeviation, DefaultSettings(), []detectorCase{
		{"spike", spikeDay(), Yes, false},
		{"normal: None, not False", normalDay(), None, false},
		{"MAD of 0: a real False", outlier, No, false},
		{"empty", nil, No, true},
	})
	cfg := DefaultSettings()
	_, st := medianAbsoluteDeviation(minutely(4, []float64{1, 2, 4, 10}), testNow, &cfg)
	require.Equal(t, 3.0, st.median) // numpy: the mean of the two middle values
	require.Equal(t, 1.5, st.mad)    // deviations 2, 1, 1, 7
	require.Equal(t, 7/1.5, st.stat)
}
