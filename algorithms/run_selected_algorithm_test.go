package algorithms

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunSelectedExceptions(t *testing.T) {
	day := normalDay() // last point at testNow
	shifted := func(lag float64) []Point {
		s := normalDay()
		for i := range s {
			s[i].Timestamp -= lag
		}
		return s
	}
	boring := minutely(1440, []float64{10, 11, 12}, repeat(5, 100)...)
	for _, tc := range []struct {
		name   string
		series []Point
		cfg    func(*Settings)
		want   error
	}{
		{"empty", nil, nil, ErrTooShort},
		{"empty with MinTolerableLength 0", nil, func(s *Settings) { s.MinTolerableLength = 0 }, ErrTooShort},
		{"shorter than MinTolerableLength", day[:1439], func(s *Settings) { s.MinTolerableLength = 1440 }, ErrTooShort},
		{"exactly MinTolerableLength", day, func(s *Settings) { s.MinTolerableLength = 1440 }, nil},
		{"lag 500 is not stale", shifted(500), nil, nil},
		{"lag 500.5 is stale", shifted(500.5), nil, ErrStale},
		{"stale before boring", func() []Point {
			s := boring
			s = append([]Point(nil), s...)
			for i := range s {
				s[i].Timestamp -= 600
			}
			return s
		}(), nil, ErrStale},
		{"boring", boring, nil, ErrBoring},
		{"boring looks at the last MaxTolerableBoredom values only", boring, func(s *Settings) { s.MaxTolerableBoredom = 101 }, nil},
		{"too short before stale", shifted(1000)[:1], func(s *Settings) { s.MinTolerableLength = 2 }, ErrTooShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultSettings()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			res, err := RunSelected(tc.series, testNow, &cfg)
			if tc.want == nil {
				require.NoError(t, err)
				require.Len(t, res.Votes, len(cfg.Algorithms))
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.False(t, res.Anomalous)
			require.Nil(t, res.Votes)
		})
	}
}

func TestRunSelectedResult(t *testing.T) {
	cfg := DefaultSettings()
	res, err := RunSelected(spikeDay(), testNow, &cfg)
	require.NoError(t, err)
	require.True(t, res.Anomalous)
	require.Equal(t, 100.0, res.Value)
	require.Equal(t, (100.0+11+10)/3, res.TailAvg)
	require.Len(t, res.Votes, 9)
	triggered := 0
	for i, v := range res.Votes {
		require.Equal(t, cfg.Algorithms[i], v.Name)
		if v.Verdict == Yes {
			triggered++
		}
	}
	require.Equal(t, triggered, res.Triggered)
	require.GreaterOrEqual(t, res.Triggered, cfg.Consensus)
	require.Zero(t, res.Errors)

	res, err = RunSelected(normalDay(), testNow, &cfg)
	require.NoError(t, err)
	require.False(t, res.Anomalous)
	require.Equal(t, 12.0, res.Value)
}

func TestCountDistinct(t *testing.T) {
	pts := func(vs ...float64) []Point {
		s := make([]Point, len(vs))
		for i, v := range vs {
			s[i].Value = v
		}
		return s
	}
	nan := math.NaN()
	require.Equal(t, 1, countDistinct(pts(0, math.Copysign(0, -1), 0), 10)) // 0.0 == -0.0 in a set
	require.Equal(t, 3, countDistinct(pts(nan, nan, 1), 10))                // every NaN is its own
	require.Equal(t, 2, countDistinct(pts(1, 2, 3, 4), 2))                  // stops at the limit
	require.Equal(t, 12, countDistinct(pts(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 100))
}

func TestSafeRunRecoversPanics(t *testing.T) {
	cfg := DefaultSettings()
	v := safeRun(func([]Point, float64, *Settings) Vote { panic("boom") }, normalDay(), testNow, &cfg)
	require.ErrorContains(t, v.Err, "panic: boom")
	require.Equal(t, No, v.Verdict)

	v = safeRun(func([]Point, float64, *Settings) Vote {
		return Vote{Verdict: Yes, Err: errors.New("half done")}
	}, normalDay(), testNow, &cfg)
	require.Equal(t, No, v.Verdict, "an erroring detector never votes yes")
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Settings)
		field string
	}{
		{"short FullDuration", func(s *Settings) { s.FullDuration = time.Hour }, "FullDuration"},
		{"negative StalePeriod", func(s *Settings) { s.StalePeriod = -time.Second }, "StalePeriod"},
		{"negative MinTolerableLength", func(s *Settings) { s.MinTolerableLength = -1 }, "MinTolerableLength"},
		{"zero MaxTolerableBoredom", func(s *Settings) { s.MaxTolerableBoredom = 0 }, "MaxTolerableBoredom"},
		{"negative BoredomSetSize", func(s *Settings) { s.BoredomSetSize = -1 }, "BoredomSetSize"},
		{"no algorithms", func(s *Settings) { s.Algorithms = nil }, "Algorithms"},
		{"zero Consensus", func(s *Settings) { s.Consensus = 0 }, "Consensus"},
		{"Consensus above the algorithms", func(s *Settings) { s.Consensus = 10 }, "Consensus"},
		{"duplicate algorithm", func(s *Settings) { s.Algorithms = []string{"grubbs", "grubbs"}; s.Consensus = 1 }, `"grubbs"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultSettings()
			tc.mod(&cfg)
			require.ErrorContains(t, cfg.Validate(), tc.field)
			_, err := RunSelected(normalDay(), testNow, &cfg)
			require.Error(t, err)
		})
	}

	cfg := DefaultSettings()
	cfg.Algorithms = append(cfg.Algorithms, "simple_stddev_from_moving_average")
	err := cfg.Validate()
	require.ErrorIs(t, err, ErrUnknownAlgorithm)
	require.ErrorContains(t, err, `"simple_stddev_from_moving_average"`)

	for _, s := range []Settings{DefaultSettings(), SkylineCompatSettings()} {
		require.NoError(t, s.Validate())
	}
}

func TestSettingsPresets(t *testing.T) {
	def, compat := DefaultSettings(), SkylineCompatSettings()
	require.Equal(t, 86400*time.Second, def.FullDuration)
	require.Equal(t, 500*time.Second, def.StalePeriod)
	require.Equal(t, 1, def.MinTolerableLength)
	require.Equal(t, 100, def.MaxTolerableBoredom)
	require.Equal(t, 1, def.BoredomSetSize)
	require.Equal(t, 6, def.Consensus)
	require.Equal(t, SkylineAlgorithms(), def.Algorithms)
	require.False(t, def.MADNoneVotes || def.BoringEquality || def.HistogramEdgeCompat || def.OneSidedGrubbs || def.AlgorithmErrorVetoes)
	require.True(t, compat.MADNoneVotes && compat.BoringEquality && compat.HistogramEdgeCompat && compat.OneSidedGrubbs && compat.AlgorithmErrorVetoes)
	require.False(t, compat.TailAvgIntDiv || compat.EWMLegacyBias, "the golden data need float tail_avg and current pandas")

	// Every registered detector has a name in the default list and vice versa.
	require.Len(t, Registry(), len(SkylineAlgorithms()))
}

func TestEnsembleCopiesSettings(t *testing.T) {
	cfg := DefaultSettings()
	e, err := NewEnsemble(&cfg)
	require.NoError(t, err)
	cfg.Algorithms[0] = "grubbs"
	cfg.Consensus = 1
	got := e.Settings()
	require.Equal(t, "first_hour_average", got.Algorithms[0])
	require.Equal(t, 6, got.Consensus)
}

func TestSelfTest(t *testing.T) {
	require.NoError(t, SelfTest(ptr(DefaultSettings())))
	require.NoError(t, SelfTest(ptr(SkylineCompatSettings())))

	cfg := DefaultSettings()
	cfg.Algorithms = []string{"grubbs", "ks_test", "mirage"}
	cfg.Consensus = 1
	require.ErrorContains(t, SelfTest(&cfg), `"mirage"`)
}

func TestIsAnomalouslyAnomalous(t *testing.T) {
	// No history: store the trigger and surface it.
	h, store, anomalous := IsAnomalouslyAnomalous(nil, 1000, 5)
	require.Equal(t, []Point{{1000, 5}}, h)
	require.True(t, store)
	require.True(t, anomalous)

	// Same value within 300 s: the same data triggering again.
	h2, store, anomalous := IsAnomalouslyAnomalous(h, 1300, 5)
	require.Equal(t, h, h2)
	require.False(t, store)
	require.False(t, anomalous)

	// One interval: its std is NaN, so not anomalous, but it is stored.
	h, store, anomalous = IsAnomalouslyAnomalous(h, 1301, 5)
	require.Equal(t, []Point{{1000, 5}, {1301, 5}}, h)
	require.True(t, store)
	require.False(t, anomalous)

	// Fifty triggers about an hour apart, then one a day later: anomalous. (With the new
	// interval in the sample std, a single outlier needs more than ten intervals to reach
	// 3 sigma.)
	var hist []Point
	for i := range 50 {
		hist = append(hist, Point{Timestamp: float64(3600*i + 7*(i%3)), Value: float64(i)})
	}
	last := hist[len(hist)-1].Timestamp
	_, store, anomalous = IsAnomalouslyAnomalous(hist[:len(hist):len(hist)], last+86400, 42)
	require.True(t, store)
	require.True(t, anomalous)
	_, _, anomalous = IsAnomalouslyAnomalous(hist[:len(hist):len(hist)], last+3600, 42)
	require.False(t, anomalous)
}
