package research

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// ddSine is a sine of period 50 and amplitude 1 around 10 with N(0, noise²) noise.
func ddSine(n int, seed uint64, noise float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 10 + math.Sin(2*math.Pi*float64(i)/50) + noise*rng.NormFloat64()
	}
	return xs
}

// ddRun feeds xs to d as one-minute rows and returns the scores.
func ddRun(d *Discord, xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = d.Update(1.4e9+60*float64(i), x)
	}
	return out
}

// TestDiscordOddPeriod: one period of a noisy sine replaced by an odd shape whose values
// stay in the normal range scores > 0.8 inside that period, while the unedited series never
// scores above 0.5 once History rows are seen.
func TestDiscordOddPeriod(t *testing.T) {
	const start, period, seeds = 2000, 50, 5
	cfg := DefaultDiscordConfig()
	t.Run("clean", func(t *testing.T) {
		for seed := uint64(1); seed <= seeds; seed++ {
			s := ddRun(NewDiscord(cfg), ddSine(3000, seed, 0.05))
			require.LessOrEqual(t, slices.Max(s[cfg.History:]), 0.5, "seed %d", seed)
		}
	})
	for _, tc := range []struct {
		name string
		edit func(xs []float64) // edits xs[start : start+period]
	}{
		{"flattened", func(xs []float64) {
			for i := start; i < start+period; i++ {
				xs[i] = 10 + 0.3*(xs[i]-10)
			}
		}},
		{"reversed", func(xs []float64) { slices.Reverse(xs[start : start+period]) }},
		{"square", func(xs []float64) {
			for i := start; i < start+period; i++ {
				xs[i] = 10 + 0.8*math.Copysign(1, xs[i]-10)
			}
		}},
		{"held", func(xs []float64) {
			for i := start + 1; i < start+period; i++ {
				xs[i] = xs[start]
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= seeds; seed++ {
				xs := ddSine(3000, seed, 0.05)
				tc.edit(xs)
				s := ddRun(NewDiscord(cfg), xs)
				require.Greater(t, slices.Max(s[start:start+period]), 0.8, "seed %d", seed)
				require.LessOrEqual(t, slices.Max(s[cfg.History:start]), 0.5, "before the edit, seed %d", seed)
			}
		})
	}
}

// ddNaiveNearest is D²_t by brute force over the whole series xs[:t+1] (see Discord),
// summed oldest row first like the detector; ok is false when there is no neighbour.
func ddNaiveNearest(xs []float64, m, h int) (d2 float64, ok bool) {
	t := len(xs) - 1
	d2 = math.Inf(1)
	for j := max(m-1, t-h+1); j <= t-m; j++ {
		s := 0.0
		for k := range m {
			e := xs[t-m+1+k] - xs[j-m+1+k]
			s += float64(e * e)
		}
		d2, ok = min(d2, s), true
	}
	return d2, ok
}

// TestDiscordNearestBruteForce: on small random series (with ties, flat runs and repeats)
// the early-abandoning search returns exactly the brute-force D²_t at every row, the sorted
// copy of the ring is the kept values sorted, and the scale is their IQR / 1.349.
func TestDiscordNearestBruteForce(t *testing.T) {
	for _, tc := range []struct{ m, h, n int }{
		{1, 2, 50},
		{1, 7, 80},
		{3, 4, 80},
		{4, 20, 300},
		{5, 37, 400},
		{16, 100, 700},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.m*1000+tc.h), 3))
		xs := make([]float64, tc.n)
		for i := range xs {
			switch r := rng.IntN(10); {
			case r < 3 && i > 0:
				xs[i] = xs[i-1] // flat runs
			case r < 5:
				xs[i] = float64(rng.IntN(3)) // repeats and exact matches
			default:
				xs[i] = rng.NormFloat64()
			}
		}
		cfg := DefaultDiscordConfig()
		cfg.Window, cfg.History = tc.m, tc.h
		d := NewDiscord(cfg)
		for i, x := range xs {
			d.push(x)
			got, ok := d.nearest()
			want, wantOK := ddNaiveNearest(xs[:i+1], tc.m, tc.h)
			require.Equal(t, wantOK, ok, "m=%d h=%d row %d", tc.m, tc.h, i)
			if ok {
				require.Equal(t, want, got, "m=%d h=%d row %d", tc.m, tc.h, i)
			}

			kept := slices.Clone(xs[max(0, i+1-tc.m-tc.h) : i+1])
			slices.Sort(kept)
			require.Equal(t, kept, d.sorted, "row %d", i)
			scale := (kept[3*(len(kept)-1)/4] - kept[(len(kept)-1)/4]) / 1.349
			if scale == 0 {
				scale = (kept[len(kept)-1] - kept[0]) / 1.349
			}
			if scale == 0 {
				scale = 1
			}
			require.Equal(t, scale, d.scale(), "row %d", i)
		}
	}
}

// TestDiscordScoreFormula: once calibrated, the score is min(1, d_t / (Scale·max(q, Floor)))
// with q the numpy-"lower" quantile of the distances learned before the row.
func TestDiscordScoreFormula(t *testing.T) {
	cfg := DefaultDiscordConfig()
	cfg.Calibration, cfg.MinDistances, cfg.Quantile, cfg.Scale, cfg.Floor = 10, 5, 0.5, 2, 0.1
	d := NewDiscord(cfg)
	require.Zero(t, d.score(1), "no distances yet")
	for i, v := range []float64{1, 2, 3, 4} {
		d.learn(v)
		require.Zero(t, d.score(100), "only %d distances", i+1)
	}
	// 1..5: q is the element of rank floor(0.5·4), 3, and Scale·q = 6.
	d.learn(5)
	require.Equal(t, 1.0, d.score(6))
	require.Equal(t, 1.0, d.score(math.MaxFloat64))
	require.Equal(t, 0.5, d.score(3))
	require.Zero(t, d.score(0), "a perfect match")
	for _, v := range []float64{9, 0, 0, 0, 0, 0, 0, 0, 0, 0} { // evicts 1..5, then 9 stays
		d.learn(v)
	}
	require.Equal(t, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, d.dists.sorted)
	d.learn(0) // evicts 9
	require.Equal(t, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, d.dists.sorted)
	// q = 0 is floored at 0.1: 0.05 / (2·0.1).
	require.InDelta(t, 0.25, d.score(0.05), 1e-15)
}

// TestDiscordCausal: the scores of the first k rows do not depend on the rows after them.
func TestDiscordCausal(t *testing.T) {
	xs := ddSine(2500, 9, 0.05)
	for i := 1800; i < 1850; i++ {
		xs[i] = 10
	}
	full := ddRun(NewDiscord(DefaultDiscordConfig()), xs)
	require.Greater(t, slices.Max(full[1800:1850]), 0.8)
	for _, k := range []int{1, 31, 500, 1799, 1801, 1900} {
		future := slices.Clone(xs)
		for i := k; i < len(future); i++ {
			future[i] = -future[i] * 3 // a different future
		}
		cut := ddRun(NewDiscord(DefaultDiscordConfig()), xs[:k])
		require.Equal(t, full[:k], cut, "k=%d", k)
		other := ddRun(NewDiscord(DefaultDiscordConfig()), future)
		require.Equal(t, full[:k], other[:k], "k=%d", k)
	}
}

func TestDiscordConfigValidate(t *testing.T) {
	require.NoError(t, DefaultDiscordConfig().Validate())
	for _, tc := range []struct {
		field string
		edit  func(*DiscordConfig)
	}{
		{"Window", func(c *DiscordConfig) { c.Window = 0 }},
		{"Window", func(c *DiscordConfig) { c.Window = 1<<16 + 1 }},
		{"History", func(c *DiscordConfig) { c.History = c.Window }},
		{"History", func(c *DiscordConfig) { c.History = 1<<24 + 1 }},
		{"Calibration", func(c *DiscordConfig) { c.Calibration = 0 }},
		{"Calibration", func(c *DiscordConfig) { c.Calibration = 1<<20 + 1 }},
		{"MinDistances", func(c *DiscordConfig) { c.MinDistances = 0 }},
		{"MinDistances", func(c *DiscordConfig) { c.MinDistances = c.Calibration + 1 }},
		{"Quantile", func(c *DiscordConfig) { c.Quantile = 0 }},
		{"Quantile", func(c *DiscordConfig) { c.Quantile = 1.5 }},
		{"Quantile", func(c *DiscordConfig) { c.Quantile = math.NaN() }},
		{"Scale", func(c *DiscordConfig) { c.Scale = 0 }},
		{"Scale", func(c *DiscordConfig) { c.Scale = math.Inf(1) }},
		{"Scale", func(c *DiscordConfig) { c.Scale = math.NaN() }},
		{"Floor", func(c *DiscordConfig) { c.Floor = -1 }},
		{"Floor", func(c *DiscordConfig) { c.Floor = math.Inf(1) }},
		{"Floor", func(c *DiscordConfig) { c.Floor = math.NaN() }},
	} {
		c := DefaultDiscordConfig()
		tc.edit(&c)
		err := c.Validate()
		require.ErrorContains(t, err, "invalid "+tc.field+" ")
		require.PanicsWithValue(t, "research.NewDiscord: "+err.Error(), func() { NewDiscord(c) })
	}
}

// TestDiscordEdgeCases: degenerate series never panic or produce NaN, and every score is in
// [0, 1]; a constant series scores 0 throughout.
func TestDiscordEdgeCases(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	gen := func(n int, f func(i int) float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = f(i)
		}
		return xs
	}
	noisy := ddSine(3000, 2, 0.05)
	for _, tc := range []struct {
		name string
		xs   []float64
		zero bool // every score must be 0
		one  int  // a row that must score 1, if > 0
	}{
		{"constant", gen(3000, func(int) float64 { return 42 }), true, 0},
		{"zero", gen(3000, func(int) float64 { return 0 }), true, 0},
		{"alternating 1e300", gen(3000, func(i int) float64 { return math.Copysign(1e300, float64(i%2)-0.5) }), false, 0},
		{"random ±1e300", gen(3000, func(int) float64 { return 1e300 * rng.NormFloat64() }), false, 0},
		{"max float", gen(3000, func(int) float64 {
			return float64(rng.IntN(3)-1) * math.MaxFloat64
		}), false, 0},
		{"1e300 spikes", gen(3000, func(i int) float64 {
			if i%700 == 699 {
				return -1e300
			}
			return noisy[i]
		}), false, 699},
		{"tiny", gen(3000, func(i int) float64 { return 5e-324 * float64(rng.IntN(4)) }), false, 0},
		{"long flat stretches", gen(3000, func(i int) float64 {
			if (i/400)%2 == 1 {
				return 7
			}
			return noisy[i]
		}), false, 0},
		{"flat then noise", gen(3000, func(i int) float64 {
			if i < 2000 {
				return -3
			}
			return noisy[i]
		}), false, 2000},
		{"step", gen(3000, func(i int) float64 {
			if i < 1500 {
				return 1
			}
			return 2
		}), false, 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s []float64
			require.NotPanics(t, func() { s = ddRun(NewDiscord(DefaultDiscordConfig()), tc.xs) })
			for i, v := range s {
				require.False(t, math.IsNaN(v), "row %d", i)
				require.True(t, v >= 0 && v <= 1, "row %d: %v", i, v)
				if tc.zero {
					require.Zero(t, v, "row %d", i)
				}
			}
			if tc.one > 0 {
				require.Equal(t, 1.0, s[tc.one])
			}
		})
	}
	// Flat against flat is distance 0: once a flat stretch at 7 has been seen, the next one
	// scores 0 from its Window-th row on.
	flat := gen(3000, func(i int) float64 {
		if (i/400)%2 == 1 {
			return 7
		}
		return noisy[i]
	})
	s := ddRun(NewDiscord(DefaultDiscordConfig()), flat)
	require.Zero(t, slices.Max(s[1200+DefaultDiscordConfig().Window:1600]))

	d := NewDiscord(DefaultDiscordConfig())
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		require.Zero(t, d.Update(0, x))
	}
	require.Zero(t, d.rows, "non-finite values are not learned")
}

// TestDiscordAllocs: Update allocates nothing, from the first row on.
func TestDiscordAllocs(t *testing.T) {
	xs := ddSine(4096, 3, 0.05)
	d := NewDiscord(DefaultDiscordConfig())
	i := 0
	require.Zero(t, testing.AllocsPerRun(3000, func() {
		d.Update(float64(i), xs[i%len(xs)])
		i++
	}))
}

func BenchmarkDiscordUpdate(b *testing.B) {
	rng := rand.New(rand.NewPCG(8, 8))
	walk := make([]float64, 4096)
	for i := 1; i < len(walk); i++ {
		walk[i] = walk[i-1] + rng.NormFloat64()
	}
	noise := make([]float64, 4096)
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	for _, bc := range []struct {
		name string
		xs   []float64
	}{
		{"sine", ddSine(4096, 7, 0.05)},
		{"walk", walk},
		{"noise", noise},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := NewDiscord(DefaultDiscordConfig())
			ddRun(d, bc.xs) // warm: every ring is full
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & 4095
				d.Update(float64(i), bc.xs[j])
			}
		})
	}
}
