package algorithms

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each [BUG-COMPAT] switch changes the answer where Etsy's code is wrong and nowhere else.

func TestCompatMADNoneVotes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Point
		want   map[bool]bool // MADNoneVotes -> anomalous
	}{
		{"None counts as yes only in compat", normalDay(), map[bool]bool{true: true, false: false}},
		{"Yes counts in both", spikeDay(), map[bool]bool{true: true, false: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, compat := range []bool{true, false} {
				cfg := DefaultSettings()
				cfg.Algorithms = []string{"median_absolute_deviation"}
				cfg.Consensus = 1
				cfg.MADNoneVotes = compat
				res, err := RunSelected(tc.series, testNow, &cfg)
				require.NoError(t, err)
				require.Equal(t, tc.want[compat], res.Anomalous, "MADNoneVotes=%v", compat)
			}
		})
	}

	// Etsy's rule is ensemble.count(False) <= len - CONSENSUS: with MAD's None, five real
	// votes out of nine are enough.
	res, err := RunSelected(normalDay(), testNow, ptr(SkylineCompatSettings()))
	require.NoError(t, err)
	require.Equal(t, 0, res.Triggered)
	require.Equal(t, 1, res.NotNo)
}

func TestCompatTailAvgIntDiv(t *testing.T) {
	s := minutely(1440, []float64{10, 12}, 1, 1, 2)
	require.Equal(t, 1.0, TailAvg(s, true))
	require.Equal(t, 4.0/3, TailAvg(s, false))

	// The detectors that use tail_avg see the floored value.
	compat, fixed := DefaultSettings(), DefaultSettings()
	compat.TailAvgIntDiv = true
	_, a := stddevFromAverage(s, testNow, &compat)
	_, b := stddevFromAverage(s, testNow, &fixed)
	require.NotEqual(t, a.lhs, b.lhs)
}

func TestCompatBoringEquality(t *testing.T) {
	constantTail := minutely(1440, []float64{10, 12}, repeat(7, 100)...)
	twoValues := minutely(1440, []float64{10, 12})
	for _, tc := range []struct {
		name    string
		series  []Point
		setSize int
		compat  error
		fixed   error
	}{
		{"constant tail, set size 1", constantTail, 1, ErrBoring, ErrBoring},
		{"constant tail, set size 2: == misses it", constantTail, 2, nil, ErrBoring},
		{"two values, set size 2", twoValues, 2, ErrBoring, ErrBoring},
		{"two values, set size 3: == misses it", twoValues, 3, nil, ErrBoring},
		{"two values, set size 1", twoValues, 1, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, compat := range []bool{true, false} {
				cfg := DefaultSettings()
				cfg.BoringEquality = compat
				cfg.BoredomSetSize = tc.setSize
				e, err := NewEnsemble(&cfg)
				require.NoError(t, err)
				want := tc.fixed
				if compat {
					want = tc.compat
				}
				require.ErrorIs(t, e.Check(tc.series, testNow), want, "BoringEquality=%v", compat)
				if want == nil {
					require.NoError(t, e.Check(tc.series, testNow))
				}
			}
		})
	}
}

func TestCompatHistogramEdges(t *testing.T) {
	digits := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, tc := range []struct {
		name           string
		series         []Point
		compat, fixed  Verdict
		wantTailInBin0 bool
	}{
		// Values 0..9 and a tail of three 50s: tail_avg == max sits in the last bin (3
		// values), which Etsy's half-open test never matches.
		{"tail average equal to max", minutely(1000, digits, 50, 50, 50), No, Yes, false},
		// Values 91..100 and a tail 0, 1, 5 (tail_avg 2) in the sparse bin 0: Etsy only
		// matches bin 0 when tail_avg <= min.
		{"tail average inside bin 0", minutely(1000, []float64{91, 92, 93, 94, 95, 96, 97, 98, 99, 100}, 0, 1, 5), No, Yes, true},
		// tail_avg == min still matches bin 0 in both.
		{"tail average equal to min", minutely(1000, []float64{91, 92, 93, 94, 95, 96, 97, 98, 99, 100}, 0, 0, 0), Yes, Yes, true},
		{"dense bin", minutely(1500, []float64{10, 11, 12}), No, No, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compat, fixed := DefaultSettings(), DefaultSettings()
			compat.HistogramEdgeCompat = true
			require.Equal(t, tc.compat, HistogramBins(tc.series, testNow, &compat).Verdict, "compat")
			require.Equal(t, tc.fixed, HistogramBins(tc.series, testNow, &fixed).Verdict, "fixed")
			_, st := histogramBins(tc.series, testNow, &fixed)
			require.Equal(t, tc.wantTailInBin0, st.tBin == 0)
		})
	}
}

func TestCompatOneSidedGrubbs(t *testing.T) {
	drop := minutely(1440, []float64{10, 12}, -100, -100, -100)
	compat, fixed := DefaultSettings(), DefaultSettings()
	compat.OneSidedGrubbs = true
	require.Equal(t, No, Grubbs(drop, testNow, &compat).Verdict)
	require.Equal(t, Yes, Grubbs(drop, testNow, &fixed).Verdict)
	require.Equal(t, Yes, Grubbs(spikeDay(), testNow, &compat).Verdict)
	require.Equal(t, Yes, Grubbs(spikeDay(), testNow, &fixed).Verdict)
}

func TestCompatAlgorithmErrorVetoes(t *testing.T) {
	// A NaN in the middle: histogram_bins raises (numpy's range is not finite), MAD skips it
	// and sees the spike.
	s := spikeDay()
	s[700].Value = math.NaN()
	for _, compat := range []bool{true, false} {
		cfg := DefaultSettings()
		cfg.Algorithms = []string{"histogram_bins", "median_absolute_deviation"}
		cfg.Consensus = 1
		cfg.AlgorithmErrorVetoes = compat
		res, err := RunSelected(s, testNow, &cfg)
		require.NoError(t, err)
		require.Equal(t, 1, res.Errors)
		require.Error(t, res.Votes[0].Err)
		require.Equal(t, Yes, res.Votes[1].Verdict)
		require.Equal(t, !compat, res.Anomalous, "AlgorithmErrorVetoes=%v", compat)
	}
}

func TestCompatEWMLegacyBias(t *testing.T) {
	s := minutely(5, []float64{3, 1, 4, 1, 5})
	legacy, current := DefaultSettings(), DefaultSettings()
	legacy.EWMLegacyBias = true
	_, a := stddevFromMovingAverage(s, testNow, &legacy)
	_, b := stddevFromMovingAverage(s, testNow, &current)
	require.InDelta(t, b.ewma, a.ewma, 1e-13)

	// pandas <= 0.14: (EWMA(x^2) - EWMA(x)^2) * (1 + 2*50) / (2*50).
	w := 50.0 / 51
	var sw, sx, sxx float64
	for i, p := range s {
		wi := math.Pow(w, float64(len(s)-1-i))
		sw += wi
		sx += wi * p.Value
		sxx += wi * p.Value * p.Value
	}
	want := math.Sqrt((sxx/sw - (sx/sw)*(sx/sw)) * 101 / 100)
	require.InDelta(t, want, a.ewmstd, 1e-12)
	require.Greater(t, math.Abs(a.ewmstd-b.ewmstd), 0.1) // far from the weight-based correction on 5 points
}

func TestRejectIncomplete(t *testing.T) {
	hour := minutely(60, []float64{10, 12})
	cfg := DefaultSettings()
	_, err := RunSelected(hour, testNow, &cfg)
	require.NoError(t, err)
	cfg.RejectIncomplete = true
	_, err = RunSelected(hour, testNow, &cfg)
	require.ErrorIs(t, err, ErrIncomplete)
	// A full day (86400 s from first to last point) is complete.
	day := minutely(1441, []float64{10, 12})
	_, err = RunSelected(day, testNow, &cfg)
	require.NoError(t, err)
	require.False(t, errors.Is(err, ErrIncomplete))
}

func repeat(v float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// TestSettingsApplyCompat: each --skyline-compat name turns on its switch and no other,
// "all" turns on every named switch (not EWMLegacyBias, which has no name), switches already
// on stay on, and an unknown name is an error that leaves the settings unchanged.
func TestSettingsApplyCompat(t *testing.T) {
	require.Equal(t, []string{"mad-none-votes", "tail-avg-int-div", "boring-equality", "histogram-edges",
		"one-sided-grubbs", "algorithm-error-vetoes"}, CompatSwitches())
	on := func(f func(*Settings)) Settings {
		s := DefaultSettings()
		f(&s)
		return s
	}
	for _, tc := range []struct {
		names []string
		want  Settings
	}{
		{nil, DefaultSettings()},
		{[]string{"mad-none-votes"}, on(func(s *Settings) { s.MADNoneVotes = true })},
		{[]string{"tail-avg-int-div"}, on(func(s *Settings) { s.TailAvgIntDiv = true })},
		{[]string{"boring-equality"}, on(func(s *Settings) { s.BoringEquality = true })},
		{[]string{"histogram-edges"}, on(func(s *Settings) { s.HistogramEdgeCompat = true })},
		{[]string{"one-sided-grubbs", "one-sided-grubbs"}, on(func(s *Settings) { s.OneSidedGrubbs = true })},
		{[]string{"algorithm-error-vetoes", "mad-none-votes"}, on(func(s *Settings) { s.AlgorithmErrorVetoes, s.MADNoneVotes = true, true })},
		{[]string{CompatAll}, on(func(s *Settings) {
			s.MADNoneVotes, s.TailAvgIntDiv, s.BoringEquality = true, true, true
			s.HistogramEdgeCompat, s.OneSidedGrubbs, s.AlgorithmErrorVetoes = true, true, true
		})},
	} {
		s := DefaultSettings()
		require.NoError(t, s.ApplyCompat(tc.names), "%v", tc.names)
		require.Equal(t, tc.want, s, "%v", tc.names)
	}

	s := SkylineCompatSettings()
	require.NoError(t, s.ApplyCompat([]string{"tail-avg-int-div"}))
	require.True(t, s.MADNoneVotes && s.TailAvgIntDiv, "switches already on stay on")

	s = DefaultSettings()
	err := s.ApplyCompat([]string{"mad-none-votes", "everything"})
	require.EqualError(t, err, `"everything" is not one of mad-none-votes, tail-avg-int-div, boring-equality, histogram-edges, one-sided-grubbs, algorithm-error-vetoes or all`)
	require.Equal(t, DefaultSettings(), s, "unchanged after an error")
	require.NoError(t, ValidateCompat(CompatAll))
	require.Error(t, ValidateCompat(""))
}

// TestSettingsWithEtsySemantics: the default settings with Etsy's semantics are
// SkylineCompatSettings, and switches already on stay on.
func TestSettingsWithEtsySemantics(t *testing.T) {
	require.Equal(t, SkylineCompatSettings(), DefaultSettings().WithEtsySemantics())
	s := DefaultSettings()
	s.TailAvgIntDiv, s.EWMLegacyBias, s.Consensus = true, true, 3
	got := s.WithEtsySemantics()
	require.True(t, got.TailAvgIntDiv && got.EWMLegacyBias && got.MADNoneVotes && got.OneSidedGrubbs)
	require.Equal(t, 3, got.Consensus)
	require.False(t, s.MADNoneVotes, "s itself is not changed")
}
