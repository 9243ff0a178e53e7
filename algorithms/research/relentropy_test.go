package research

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// reNormal returns n rows of N(0, 1) noise.
func reNormal(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x2e))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	return xs
}

// reRun feeds xs to a new detector (row i at ts 1.4e9 + 300·i) and returns the scores,
// checking that each is in [0, 1].
func reRun(t testing.TB, cfg RelativeEntropyConfig, xs []float64) []float64 {
	t.Helper()
	d := NewRelativeEntropy(cfg)
	out := make([]float64, len(xs))
	for i, x := range xs {
		s := d.Update(1.4e9+300*float64(i), x)
		require.False(t, math.IsNaN(s), "row %d: NaN score", i)
		require.GreaterOrEqual(t, s, 0.0, "row %d", i)
		require.LessOrEqual(t, s, 1.0, "row %d", i)
		out[i] = s
	}
	return out
}

// TestRelativeEntropyDistributionChange: after 2000 rows of N(0, 1) the distribution
// changes; a row within W + W/2 rows of the change scores above 0.8, for several seeds.
func TestRelativeEntropyDistributionChange(t *testing.T) {
	const change = 2000
	cfg := DefaultRelativeEntropyConfig()
	w := cfg.Window
	for _, tc := range []struct {
		name string
		edit func(x float64) float64
	}{
		{"variance x4", func(x float64) float64 { return 2 * x }},
		{"mean shift 2 sigma", func(x float64) float64 { return x + 2 }},
		{"variance x4 and mean shift", func(x float64) float64 { return 2*x - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 10; seed++ {
				xs := reNormal(change+2*w, seed)
				for i := change; i < len(xs); i++ {
					xs[i] = tc.edit(xs[i])
				}
				s := reRun(t, cfg, xs)
				first := -1
				for i := change; i < len(s); i++ {
					if s[i] > 0.8 {
						first = i
						break
					}
				}
				require.NotEqual(t, -1, first, "seed %d: no score above 0.8 after the change", seed)
				require.LessOrEqual(t, first-change, w+w/2, "seed %d", seed)
			}
		})
	}
}

// TestRelativeEntropyStationary: on stationary N(0, 1) noise, after a warm-up of 300 rows
// at most 1% of the rows score above 0.9.
func TestRelativeEntropyStationary(t *testing.T) {
	const n, warmup = 5000, 300
	for seed := uint64(1); seed <= 10; seed++ {
		s := reRun(t, DefaultRelativeEntropyConfig(), reNormal(n, seed))
		high := 0
		for _, v := range s[warmup:] {
			if v > 0.9 {
				high++
			}
		}
		frac := float64(high) / float64(n-warmup)
		require.LessOrEqual(t, frac, 0.01, "seed %d: %d high rows", seed, high)
	}
}

func TestRelativeEntropyConfigValidate(t *testing.T) {
	require.NoError(t, DefaultRelativeEntropyConfig().Validate())
	for _, tc := range []struct {
		field string
		edit  func(*RelativeEntropyConfig)
	}{
		{"Window", func(c *RelativeEntropyConfig) { c.Window = 1 }},
		{"Window", func(c *RelativeEntropyConfig) { c.Window = 1<<20 + 1 }},
		{"Bins", func(c *RelativeEntropyConfig) { c.Bins = 1 }},
		{"Bins", func(c *RelativeEntropyConfig) { c.Bins = 1<<10 + 1 }},
		{"MaxHypotheses", func(c *RelativeEntropyConfig) { c.MaxHypotheses = 0 }},
		{"Alpha", func(c *RelativeEntropyConfig) { c.Alpha = 0 }},
		{"Alpha", func(c *RelativeEntropyConfig) { c.Alpha = 1 }},
		{"Alpha", func(c *RelativeEntropyConfig) { c.Alpha = math.NaN() }},
		{"RangeWindow", func(c *RelativeEntropyConfig) { c.RangeWindow = c.Window - 1 }},
		{"RangeWindow", func(c *RelativeEntropyConfig) { c.RangeWindow = -1 }},
		{"CountHorizon", func(c *RelativeEntropyConfig) { c.CountHorizon = -1 }},
		{"CountHorizon", func(c *RelativeEntropyConfig) { c.CountHorizon = 1 }},
	} {
		c := DefaultRelativeEntropyConfig()
		tc.edit(&c)
		err := c.Validate()
		require.ErrorContains(t, err, tc.field)
		require.PanicsWithValue(t, "research.NewRelativeEntropy: "+err.Error(),
			func() { NewRelativeEntropy(c) })
	}
	for _, c := range []RelativeEntropyConfig{
		{Window: 2, Bins: 2, MaxHypotheses: 1, Alpha: 0.5},
		{Window: 52, Bins: 5, MaxHypotheses: 20, Alpha: 0.01, RangeWindow: 52, CountHorizon: 2},
	} {
		require.NoError(t, c.Validate(), "%+v", c)
	}
}

// TestRelativeEntropyCausal: the scores of the first k rows do not depend on the rows after.
func TestRelativeEntropyCausal(t *testing.T) {
	xs := reNormal(1500, 5)
	base := reRun(t, DefaultRelativeEntropyConfig(), xs)
	for _, k := range []int{1, 51, 52, 700, 1499} {
		alt := append([]float64(nil), xs[:k]...)
		for i := k; i < len(xs); i++ {
			alt = append(alt, 1e6*xs[i]+float64(i))
		}
		s := reRun(t, DefaultRelativeEntropyConfig(), alt)
		require.Equal(t, base[:k], s[:k], "k = %d", k)
	}
}

// TestRelativeEntropyExtremeValues: constant series and huge or tiny values never panic and
// never give NaN or a score outside [0, 1]; a constant series scores 0 throughout, and
// non-finite values score 0 and are skipped.
func TestRelativeEntropyExtremeValues(t *testing.T) {
	const n = 2000
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		name string
		x    func(i int) float64
		zero bool // every score is 0
	}{
		{"constant 0", func(int) float64 { return 0 }, true},
		{"constant -7.5", func(int) float64 { return -7.5 }, true},
		{"constant 1e300", func(int) float64 { return 1e300 }, true},
		{"alternating ±1e300", func(i int) float64 { return float64(1-2*(i%2)) * 1e300 }, false},
		{"±MaxFloat64 spikes", func(i int) float64 {
			switch i % 97 {
			case 0:
				return math.MaxFloat64
			case 50:
				return -math.MaxFloat64
			}
			return rng.NormFloat64()
		}, false},
		{"noise times 1e300", func(int) float64 { return 1e300 * rng.NormFloat64() }, false},
		{"tiny noise", func(int) float64 { return 1e-300 * rng.NormFloat64() }, false},
		{"denormals", func(i int) float64 { return float64(i%3) * 5e-324 }, false},
		{"step 0 to 1e300", func(i int) float64 { return float64(i/1000) * 1e300 }, false},
		{"constant then noise", func(i int) float64 {
			return float64(i/1000) * rng.NormFloat64()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = tc.x(i)
			}
			s := reRun(t, DefaultRelativeEntropyConfig(), xs)
			if tc.zero {
				require.Equal(t, make([]float64, n), s)
			}
		})
	}

	d := NewRelativeEntropy(DefaultRelativeEntropyConfig())
	for i, x := range reNormal(200, 1) {
		if i%10 == 0 {
			for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				require.Zero(t, d.Update(float64(i), bad))
			}
		}
		s := d.Update(float64(i), x)
		require.False(t, math.IsNaN(s))
	}
	require.Equal(t, 200, d.n, "non-finite values are not learned")
}

// TestRelativeEntropyScoresInRange: every score is in [0, 1] (checked by reRun) across
// configurations at the edges of Validate and series of different shapes.
func TestRelativeEntropyScoresInRange(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(4, 4))
	walk, steps, sine := make([]float64, n), make([]float64, n), make([]float64, n)
	spiky := reNormal(n, 8)
	for i := 1; i < n; i++ {
		walk[i] = walk[i-1] + rng.NormFloat64()
		steps[i] = float64((i/150)%4) + 0.1*rng.NormFloat64()
		sine[i] = math.Sin(2 * math.Pi * float64(i) / 288)
		if i%211 == 0 {
			spiky[i] = 50
		}
	}
	series := map[string][]float64{"random walk": walk, "steps": steps, "sine": sine, "spiky": spiky}
	def := DefaultRelativeEntropyConfig()
	configs := map[string]RelativeEntropyConfig{"default": def}
	for name, edit := range map[string]func(*RelativeEntropyConfig){
		"smallest": func(c *RelativeEntropyConfig) {
			*c = RelativeEntropyConfig{Window: 2, Bins: 2, MaxHypotheses: 1, Alpha: 0.5}
		},
		"odd freedom":      func(c *RelativeEntropyConfig) { c.Bins = 4 },
		"many bins":        func(c *RelativeEntropyConfig) { c.Bins = 200 },
		"one hypothesis":   func(c *RelativeEntropyConfig) { c.MaxHypotheses = 1 },
		"never forget":     func(c *RelativeEntropyConfig) { c.CountHorizon = 0 },
		"forget fast":      func(c *RelativeEntropyConfig) { c.CountHorizon = 2 },
		"range all rows":   func(c *RelativeEntropyConfig) { c.RangeWindow = 0 },
		"range one window": func(c *RelativeEntropyConfig) { c.RangeWindow = c.Window },
		"lenient":          func(c *RelativeEntropyConfig) { c.Alpha = 1e-12 },
		"strict":           func(c *RelativeEntropyConfig) { c.Alpha = 0.999 },
	} {
		c := def
		edit(&c)
		configs[name] = c
	}
	for cname, cfg := range configs {
		for sname, xs := range series {
			t.Run(cname+"/"+sname, func(t *testing.T) { reRun(t, cfg, xs) })
		}
	}
}

// TestRelativeEntropyRecoversAfterSpike: a single 1e300 row squeezes everything into one
// bin while it is in the range; once it has left the range window the detector sees
// distribution changes again.
func TestRelativeEntropyRecoversAfterSpike(t *testing.T) {
	cfg := DefaultRelativeEntropyConfig()
	xs := reNormal(3000, 2)
	xs[500] = 1e300
	for i := 2500; i < len(xs); i++ {
		xs[i] *= 2
	}
	s := reRun(t, cfg, xs)
	require.Greater(t, slices.Max(s[2500:2500+cfg.Window+cfg.Window/2]), 0.8)
}

// TestRelativeEntropySurvival: the closed form for an even number of degrees of freedom
// agrees with gonum's incomplete gamma function.
func TestRelativeEntropySurvival(t *testing.T) {
	for _, bins := range []int{3, 5, 9, 65} {
		cfg := DefaultRelativeEntropyConfig()
		cfg.Bins = bins
		d := NewRelativeEntropy(cfg)
		chi := distuv.ChiSquared{K: float64(bins - 1)}
		for _, s := range []float64{0, 0.5, 3, 13.2767, 20, 60, 200, 1500} {
			want := chi.Survival(s)
			require.InDelta(t, want, d.survival(s), 1e-12*max(1, want), "bins %d s %v", bins, s)
			require.InEpsilon(t, want+1e-300, d.survival(s)+1e-300, 1e-9, "bins %d s %v", bins, s)
		}
	}
}

// TestRelativeEntropyRebin: re-binning keeps the mass, is the identity on the same range, merges
// sub-bins exactly when the range doubles on bin edges, and handles degenerate ranges.
func TestRelativeEntropyRebin(t *testing.T) {
	q := []float64{0.1, 0.2, 0.3, 0.4}
	for _, tc := range []struct {
		name             string
		lo0, hi0, lo, hi float64
		want             []float64
	}{
		{"same range", 0, 4, 0, 4, q},
		{"doubled on edges", 0, 4, -2, 6, []float64{0, 0.3, 0.7, 0}},
		{"shifted by half a bin", 0, 4, 0.5, 4.5, []float64{0.2, 0.25, 0.35, 0.2}},
		{"narrowed: outside mass to the end bins", 0, 4, 1, 3, []float64{0.2, 0.1, 0.15, 0.55}},
		{"old range a point", 2, 2, 0, 4, []float64{0, 0, 1, 0}},
		{"new range a point", 0, 4, 3, 3, []float64{1, 0, 0, 0}},
		{"huge to small", -1e300, 1e300, -1, 1, []float64{0.3, 0, 0, 0.7}},
		{"small to huge", 1, 3, -1e300, 1e300, []float64{0, 0, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]float64, len(q))
			reRebin(out, q, tc.lo0, tc.hi0, tc.lo, tc.hi)
			require.InDeltaSlice(t, tc.want, out, 1e-12)
		})
	}
}

// TestRelativeEntropyZeroAllocs: a warm detector does not allocate, range changes included.
func TestRelativeEntropyZeroAllocs(t *testing.T) {
	d := NewRelativeEntropy(DefaultRelativeEntropyConfig())
	xs := reNormal(4096, 6)
	for i, x := range xs {
		d.Update(float64(i), x)
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		x := xs[i%len(xs)]
		if i%300 == 0 {
			x *= 10 // a new extreme: the range and every hypothesis move
		}
		d.Update(float64(i), x)
		i++
	})
	require.Zero(t, allocs)
}

func BenchmarkRelativeEntropyUpdate(b *testing.B) {
	xs := reNormal(1<<14, 3)
	d := NewRelativeEntropy(DefaultRelativeEntropyConfig())
	for i, x := range xs[:5000] {
		d.Update(float64(i), x)
	}
	b.ReportAllocs()
	b.SetBytes(16) // one row: timestamp and value
	i := 0
	for b.Loop() {
		d.Update(float64(i), xs[i&(len(xs)-1)])
		i++
	}
}
