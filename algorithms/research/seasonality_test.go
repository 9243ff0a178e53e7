package research

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// szMonday is 2024-01-01 00:00 UTC, a Monday; test series start there at 5-minute steps.
const (
	szMonday  = 1704067200.0
	szStep    = 300.0
	szDay     = 288 // rows a day
	szWeek    = 7 * szDay
	szPlanted = 19 // the Saturday of the third week
)

// szDailySine is a daily sine of amplitude 10 with unit Gaussian noise.
func szDailySine(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/szDay) + rng.NormFloat64()
	}
	return xs
}

// szWeekly is a weekday/weekend series: five high days around 100 and two low days around
// 40, each with a daily curve of amplitude amp (weekdays) or amp/4 (weekends), plus Gaussian
// noise of standard deviation 2. Day weekdayLike (if ≥ 0) is drawn as a weekday whatever
// its day of the week.
func szWeekly(n int, amp float64, weekdayLike int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	xs := make([]float64, n)
	for i := range xs {
		day := i / szDay
		curve := math.Sin(2 * math.Pi * (float64(i%szDay)/szDay - 0.25))
		if day%7 < 5 || day == weekdayLike {
			xs[i] = 100 + amp*curve
		} else {
			xs[i] = 40 + amp/4*curve
		}
		xs[i] += 2 * rng.NormFloat64()
	}
	return xs
}

func szRun(d *Seasonality, xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = d.Update(szMonday+szStep*float64(i), x)
	}
	return out
}

func TestDetectPeriod(t *testing.T) {
	daily, weekly := []float64{86400}, []float64{86400, 604800}
	withNaN := szDailySine(4*szDay, 3)
	for i := range withNaN {
		if i%7 == 0 || (i >= 300 && i < 400) {
			withNaN[i] = math.NaN()
		}
	}
	rng := rand.New(rand.NewPCG(5, 5))
	noise := make([]float64, 3*szWeek)
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	for _, tc := range []struct {
		name       string
		xs         []float64
		candidates []float64
		want       int
		minACF     float64 // acf is at least this when want > 0
	}{
		{"daily sine, 3 days", szDailySine(3*szDay, 1), weekly, szDay, 0.9},
		{"daily sine, 3 weeks: the week is a harmonic", szDailySine(3*szWeek, 2), weekly, szDay, 0.9},
		{"weekday/weekend, 3 weeks", szWeekly(3*szWeek, 0, -1, 1), weekly, szWeek, 0.8},
		{"weekday/weekend with a daily curve", szWeekly(3*szWeek, 20, -1, 2), weekly, szWeek, 0.8},
		{"weekday/weekend, daily candidate only", szWeekly(3*szWeek, 0, -1, 3), daily, 0, 0},
		{"white noise", noise, weekly, 0, 0},
		{"too short for a day", szDailySine(2*szDay-1, 4), weekly, 0, 0},
		{"too short for a week", szWeekly(2*szWeek-1, 0, -1, 4), []float64{604800}, 0, 0},
		{"NaNs skipped", withNaN, weekly, szDay, 0.9},
		{"all NaN", []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}, []float64{600}, 0, 0},
		{"constant", make([]float64, 3*szDay), weekly, 0, 0},
		{"empty", nil, weekly, 0, 0},
		{"no candidates", szDailySine(3*szDay, 5), nil, 0, 0},
		{"bad candidates", szDailySine(3*szDay, 6), []float64{math.NaN(), -86400, 0, math.Inf(1)}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, acf := DetectPeriod(tc.xs, szStep, tc.candidates, 0.6)
			t.Logf("period %d, acf %.3f", p, acf)
			require.Equal(t, tc.want, p)
			if tc.want == 0 {
				require.Zero(t, acf)
			} else {
				require.GreaterOrEqual(t, acf, tc.minACF)
				require.LessOrEqual(t, acf, 1.0)
			}
		})
	}

	t.Run("daily autocorrelation weaker on a weekly pattern", func(t *testing.T) {
		xs := szWeekly(3*szWeek, 0, -1, 1)
		_, dailyACF := DetectPeriod(xs, szStep, daily, -1)
		_, weeklyACF := DetectPeriod(xs, szStep, []float64{604800}, -1)
		t.Logf("daily acf %.3f, weekly acf %.3f", dailyACF, weeklyACF)
		require.Less(t, dailyACF, 0.5)
		require.Greater(t, weeklyACF, dailyACF+0.3)
	})

	t.Run("bad dt", func(t *testing.T) {
		xs := szDailySine(3*szDay, 1)
		for _, dt := range []float64{0, -300, math.NaN(), math.Inf(1)} {
			p, acf := DetectPeriod(xs, dt, weekly, 0.6)
			require.Zero(t, p)
			require.Zero(t, acf)
		}
	})
}

func TestSeasonalityPlantedWeekendDay(t *testing.T) {
	const n = 4 * szWeek
	clean := szRun(NewSeasonality(DefaultSeasonalityConfig()), szWeekly(n, 20, -1, 9))
	cleanMax := 0.0
	for i := 2 * szWeek; i < n; i++ {
		require.Less(t, clean[i], 0.5, "clean row %d (day %d)", i, i/szDay)
		cleanMax = max(cleanMax, clean[i])
	}

	d := NewSeasonality(DefaultSeasonalityConfig())
	planted := szRun(d, szWeekly(n, 20, szPlanted, 9))
	high := 0
	for i := szPlanted * szDay; i < (szPlanted+1)*szDay; i++ {
		if planted[i] > 0.8 {
			high++
		}
	}
	t.Logf("clean max after two weeks %.3f; planted day: %d of %d rows > 0.8", cleanMax, high, szDay)
	require.GreaterOrEqual(t, high, szDay*9/10, "rows of the planted day scoring > 0.8")
	// Outside the planted day the edit changes nothing much: the next Saturday's median
	// baseline ignores the anomalous week.
	for i := 2 * szWeek; i < n; i++ {
		if i/szDay != szPlanted {
			require.Less(t, planted[i], 0.5, "row %d (day %d)", i, i/szDay)
		}
	}
	rows, acf := d.Period()
	require.Equal(t, szWeek, rows)
	require.Greater(t, acf, 0.6)
}

func TestSeasonalityPeriod(t *testing.T) {
	d := NewSeasonality(DefaultSeasonalityConfig())
	rows, acf := d.Period()
	require.Zero(t, rows)
	require.Zero(t, acf)
	xs := szDailySine(4*szDay, 8)
	for i, x := range xs {
		d.Update(szMonday+szStep*float64(i), x)
		if i == 2*szDay-1 {
			rows, _ = d.Period() // the second day is not complete yet
			require.Zero(t, rows)
		}
	}
	rows, acf = d.Period()
	require.Equal(t, szDay, rows)
	require.Greater(t, acf, 0.9)

	// A gap of a few hours leaves empty buckets, which the period check skips.
	d2 := NewSeasonality(DefaultSeasonalityConfig())
	for i, x := range xs {
		if i < szDay+100 || i >= szDay+180 {
			d2.Update(szMonday+szStep*float64(i), x)
		}
	}
	rows, _ = d2.Period()
	require.Equal(t, szDay, rows)

	// A gap longer than the history forgets the period.
	d.Update(szMonday+szStep*float64(len(xs))+30*86400, 50)
	rows, _ = d.Period()
	require.Zero(t, rows)
}

func TestSeasonalityCausal(t *testing.T) {
	xs := szWeekly(4*szWeek, 20, szPlanted, 4)
	full := szRun(NewSeasonality(DefaultSeasonalityConfig()), xs)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, cut := range []int{100, 2*szWeek + 17, szPlanted*szDay + 50, len(xs) - 2} {
		edited := append([]float64(nil), xs[:cut+1]...)
		for range len(xs) - cut - 1 {
			edited = append(edited, 1e6*rng.NormFloat64())
		}
		got := szRun(NewSeasonality(DefaultSeasonalityConfig()), edited)
		require.Equal(t, full[:cut+1], got[:cut+1], "cut %d", cut)
	}
}

func TestSeasonalityConfigValidate(t *testing.T) {
	require.NoError(t, DefaultSeasonalityConfig().Validate())
	for _, tc := range []struct {
		field  string
		mutate func(c *SeasonalityConfig)
	}{
		{"Candidates", func(c *SeasonalityConfig) { c.Candidates = nil }},
		{"Candidates", func(c *SeasonalityConfig) { c.Candidates = []float64{86400, -604800} }},
		{"Candidates", func(c *SeasonalityConfig) { c.Candidates = []float64{math.NaN()} }},
		{"Candidates", func(c *SeasonalityConfig) { c.Candidates = []float64{86400 + 900} }},
		{"Candidates", func(c *SeasonalityConfig) { c.Candidates = []float64{1800} }},
		{"MinACF", func(c *SeasonalityConfig) { c.MinACF = 0 }},
		{"MinACF", func(c *SeasonalityConfig) { c.MinACF = 1.5 }},
		{"MinACF", func(c *SeasonalityConfig) { c.MinACF = math.NaN() }},
		{"BucketSeconds", func(c *SeasonalityConfig) { c.BucketSeconds = 0 }},
		{"BucketSeconds", func(c *SeasonalityConfig) { c.BucketSeconds = math.Inf(1) }},
		{"BucketSeconds", func(c *SeasonalityConfig) { c.BucketSeconds = math.NaN() }},
		{"HistoryBuckets", func(c *SeasonalityConfig) { c.HistoryBuckets = 671 }},
		{"HistoryBuckets", func(c *SeasonalityConfig) { c.HistoryBuckets = 1 << 23 }},
		{"CheckBuckets", func(c *SeasonalityConfig) { c.CheckBuckets = 0 }},
		{"BaselinePeriods", func(c *SeasonalityConfig) { c.BaselinePeriods = 0 }},
		{"BaselinePeriods", func(c *SeasonalityConfig) { c.BaselinePeriods = 9 }},
		{"ResidWindow", func(c *SeasonalityConfig) { c.ResidWindow = 19 }},
		{"ResidDelay", func(c *SeasonalityConfig) { c.ResidDelay = -1 }},
		{"Scale", func(c *SeasonalityConfig) { c.Scale = 0 }},
		{"Scale", func(c *SeasonalityConfig) { c.Scale = math.Inf(1) }},
	} {
		cfg := DefaultSeasonalityConfig()
		tc.mutate(&cfg)
		err := cfg.Validate()
		require.ErrorContains(t, err, "invalid "+tc.field, "%+v", cfg)
		require.PanicsWithValue(t, "research.NewSeasonality: "+err.Error(), func() { NewSeasonality(cfg) })
	}
}

func TestSeasonalityEdgeCases(t *testing.T) {
	const n = 4 * szWeek
	gen := func(f func(i int) float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = f(i)
		}
		return xs
	}
	weekly := szWeekly(n, 20, szPlanted, 2)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct {
		name     string
		xs       []float64
		wantWeek bool // the weekly period is found and the planted day scores 1
	}{
		{"constant", gen(func(int) float64 { return 7 }), false},
		{"zero", gen(func(int) float64 { return 0 }), false},
		{"constant huge", gen(func(int) float64 { return -1e300 }), false},
		{"alternating ±1e300", gen(func(i int) float64 { return float64(1-2*(i%2)) * 1e300 }), false},
		{"random ±1e300", gen(func(int) float64 { return math.Copysign(1e300, rng.NormFloat64()) }), false},
		{"weekly ×1e298", gen(func(i int) float64 { return weekly[i] * 1e298 }), true},
		{"weekly ×−1e306", gen(func(i int) float64 { return -weekly[i] * 1e306 }), true},
		{"weekly ×1e-300", gen(func(i int) float64 { return weekly[i] * 1e-300 }), true},
		{"±MaxFloat64", gen(func(i int) float64 { return math.MaxFloat64 * math.Copysign(1, weekly[i]-70) }), false},
		{"tiny", gen(func(i int) float64 { return weekly[i] * 1e-310 }), false},
		{"weekly with NaN and Inf", gen(func(i int) float64 {
			switch i % 97 {
			case 0:
				return math.NaN()
			case 1:
				return math.Inf(-1)
			}
			return weekly[i]
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSeasonality(DefaultSeasonalityConfig())
			scores := szRun(d, tc.xs)
			for i, s := range scores {
				require.False(t, math.IsNaN(s), "row %d", i)
				require.True(t, s >= 0 && s <= 1, "row %d: %v", i, s)
			}
			rows, acf := d.Period()
			if tc.wantWeek {
				require.Equal(t, szWeek, rows)
				require.Equal(t, 1.0, scores[szPlanted*szDay+szDay/2])
			}
			require.GreaterOrEqual(t, rows, 0)
			require.False(t, math.IsNaN(acf))
			p, acf := DetectPeriod(tc.xs, szStep, []float64{86400, 604800}, 0.6)
			require.GreaterOrEqual(t, p, 0)
			require.True(t, acf >= -1 && acf <= 1, "acf %v", acf)
		})
	}

	t.Run("constant scores 0", func(t *testing.T) {
		d := NewSeasonality(DefaultSeasonalityConfig())
		for i, s := range szRun(d, gen(func(int) float64 { return 7 })) {
			require.Zero(t, s, "row %d", i)
		}
	})

	t.Run("bad timestamps and values are ignored", func(t *testing.T) {
		d := NewSeasonality(DefaultSeasonalityConfig())
		for _, row := range [][2]float64{
			{math.NaN(), 1}, {math.Inf(1), 1}, {1e300, 1}, {-1e300, 1}, {szMonday, math.NaN()},
			{szMonday, math.Inf(1)}, {szMonday, 1}, {szMonday - 1e6, 2}, {szMonday, 3},
		} {
			require.Zero(t, d.Update(row[0], row[1]))
		}
	})
}

func TestSeasonalityAllocs(t *testing.T) {
	xs := szWeekly(4*szWeek, 20, -1, 1)
	d := NewSeasonality(DefaultSeasonalityConfig())
	i := 0
	allocs := testing.AllocsPerRun(len(xs)-1, func() {
		d.Update(szMonday+szStep*float64(i), xs[i])
		i++
	})
	require.Zero(t, allocs)
	rows, _ := d.Period()
	require.Equal(t, szWeek, rows)
}

func BenchmarkSeasonalityUpdate(b *testing.B) {
	const warm = 3 * szWeek
	xs := szWeekly(4*szWeek, 20, -1, 1)
	d := NewSeasonality(DefaultSeasonalityConfig())
	for i := range warm {
		d.Update(szMonday+szStep*float64(i), xs[i])
	}
	b.ReportAllocs()
	i := warm
	for b.Loop() {
		d.Update(szMonday+szStep*float64(i), xs[i%len(xs)])
		i++
	}
}

func BenchmarkDetectPeriod(b *testing.B) {
	candidates := []float64{86400, 604800}
	rows := szWeekly(3*szWeek, 20, -1, 1)
	buckets := make([]float64, len(rows)/6) // 30-minute means, as Seasonality keeps them
	for i, x := range rows {
		buckets[i/6] += x / 6
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		dt   float64
	}{
		{"rows=6048", rows, szStep},     // three weeks at 5-minute steps
		{"buckets=1008", buckets, 1800}, // the default bucket history
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.xs)) * 8)
			for b.Loop() {
				DetectPeriod(tc.xs, tc.dt, candidates, 0.6)
			}
		})
	}
}

// TestSeasonalityPeriodRows checks that the period reported in rows follows the sampling
// interval while the buckets stay 30 minutes wide.
func TestSeasonalityPeriodRows(t *testing.T) {
	for _, step := range []float64{60, 300, 900} {
		t.Run(fmt.Sprintf("step=%v", step), func(t *testing.T) {
			d := NewSeasonality(DefaultSeasonalityConfig())
			perDay := int(86400 / step)
			rng := rand.New(rand.NewPCG(1, uint64(step)))
			for i := range 3 * perDay {
				d.Update(szMonday+step*float64(i), 10*math.Sin(2*math.Pi*float64(i)/float64(perDay))+rng.NormFloat64())
			}
			rows, _ := d.Period()
			require.Equal(t, perDay, rows)
		})
	}
}

// TestSeasonalityCalibrationWindow checks the sorted calibration window against the
// residual ring after every row: the ResidWindow residuals before the newest ResidDelay.
func TestSeasonalityCalibrationWindow(t *testing.T) {
	for _, delay := range []int{0, 1, 7} {
		t.Run(fmt.Sprintf("delay=%d", delay), func(t *testing.T) {
			cfg := DefaultSeasonalityConfig()
			cfg.Candidates, cfg.BucketSeconds, cfg.HistoryBuckets = []float64{86400}, 3600, 72
			cfg.CheckBuckets, cfg.ResidWindow, cfg.ResidDelay = 24, 30, delay
			d := NewSeasonality(cfg)
			xs := szDailySine(5*szDay, 1)
			for i, x := range xs {
				d.Update(szMonday+szStep*float64(i), x)
				end := d.resid.Len() - delay
				var want []float64
				for j := max(0, end-cfg.ResidWindow); j < end; j++ {
					want = append(want, d.resid.At(j))
				}
				slices.Sort(want)
				require.Equal(t, len(want), len(d.calib), "row %d", i)
				if len(want) > 0 {
					require.Equal(t, want, d.calib, "row %d", i)
				}
			}
			rows, _ := d.Period()
			require.Equal(t, szDay, rows)
			require.Len(t, d.calib, cfg.ResidWindow)
		})
	}
}
