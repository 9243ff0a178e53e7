package research

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// lsSeries is level(i) plus normal noise of standard deviation sd, at 5-minute rows.
func lsSeries(n int, seed uint64, sd float64, level func(i int) float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = level(i) + sd*rng.NormFloat64()
	}
	return xs
}

// lsStep is the level a before row at and b from row at on.
func lsStep(at int, a, b float64) func(int) float64 {
	return func(i int) float64 {
		if i < at {
			return a
		}
		return b
	}
}

func lsRun(d *LevelShift, xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = d.Update(1.4e9+300*float64(i), x)
	}
	return out
}

// lsFires lists the rows from `from` on that score above 0.5.
func lsFires(s []float64, from int) []int {
	var rows []int
	for i := from; i < len(s); i++ {
		if s[i] > 0.5 {
			rows = append(rows, i)
		}
	}
	return rows
}

// TestLevelShiftStep: a planted step fires once with a high score when the recent window
// has stayed at the new level (Window − 1 rows after the step), and after the re-baseline
// the new level scores 0.
func TestLevelShiftStep(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	const step = 2000
	for _, tc := range []struct {
		name   string
		sd     float64
		before float64
		after  float64
	}{
		{"up", 1, 10, 40},
		{"down", 1, 40, 10},
		{"up, small noise at a high level", 0.01, 1000, 1010},
		{"down through zero", 2, 5, -25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := lsSeries(3000, 1, tc.sd, lsStep(step, tc.before, tc.after))
			s := lsRun(NewLevelShift(cfg), xs)
			require.Equal(t, []int{step + cfg.Window - 1}, lsFires(s, cfg.Reference), "one fire, at the confirmation")
			require.Greater(t, s[step+cfg.Window-1], 0.8)
			for i := step + cfg.Window + 50; i < len(s); i++ {
				require.Less(t, s[i], 0.2, "row %d", i)
			}
		})
	}
}

// TestLevelShiftRelativeFloor: on a nearly flat series the scale is floored at
// RelativeFloor·|median|, so a change of 0.05% of the level is not a shift.
func TestLevelShiftRelativeFloor(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	xs := lsSeries(3000, 1, 0.01, lsStep(2000, 1000, 1000.5))
	require.Empty(t, lsFires(lsRun(NewLevelShift(cfg), xs), 0))
	cfg.RelativeFloor = 1e-5
	require.Equal(t, []int{2000 + cfg.Window - 1}, lsFires(lsRun(NewLevelShift(cfg), xs), 0))
}

// TestLevelShiftSmallWindows: the smallest valid windows work (no panic, scores in
// [0, 1]) and still confirm a clear step Window − 1 rows after it.
func TestLevelShiftSmallWindows(t *testing.T) {
	for _, tc := range []struct{ window, reference, minReference int }{
		{2, 2, 1}, {2, 2, 2}, {3, 7, 2}, {12, 12, 12}, {12, 40, 1},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			cfg := DefaultLevelShiftConfig()
			cfg.Window, cfg.Reference, cfg.MinReference = tc.window, tc.reference, tc.minReference
			s := lsRun(NewLevelShift(cfg), lsSeries(400, 10, 1, lsStep(200, 10, 40)))
			for i, v := range s {
				require.True(t, v >= 0 && v <= 1, "row %d: %v", i, v)
			}
			require.Greater(t, s[200+cfg.Window-1], 0.8)
		})
	}
}

// TestLevelShiftSecondShift: after a re-baseline the new level is the reference, so a
// return to the old level is a shift of its own and fires again.
func TestLevelShiftSecondShift(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	xs := lsSeries(3000, 2, 1, func(i int) float64 {
		if i >= 1500 && i < 2200 {
			return 40
		}
		return 10
	})
	s := lsRun(NewLevelShift(cfg), xs)
	require.Equal(t, []int{1500 + cfg.Window - 1, 2200 + cfg.Window - 1}, lsFires(s, 0))
}

// TestLevelShiftQuiet: white noise and a noisy daily sine never fire after a warm-up of
// one reference window.
func TestLevelShiftQuiet(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	for _, tc := range []struct {
		name  string
		sd    float64
		level func(int) float64
	}{
		{"white noise", 1, func(int) float64 { return 0 }},
		{"white noise at a level", 5, func(int) float64 { return 100 }},
		{"noisy daily sine", 1, func(i int) float64 { return 50 + 20*math.Sin(2*math.Pi*float64(i)/288) }},
		{"very noisy daily sine", 10, func(i int) float64 { return 50 + 20*math.Sin(2*math.Pi*float64(i)/288) }},
	} {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				s := lsRun(NewLevelShift(cfg), lsSeries(5000, seed, tc.sd, tc.level))
				for i := cfg.Reference; i < len(s); i++ {
					require.LessOrEqual(t, s[i], 0.5, "row %d", i)
				}
			})
		}
	}
}

// TestLevelShiftSpike: a spike, and a burst shorter than the recent window, are not level
// shifts and do not fire.
func TestLevelShiftSpike(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	for _, tc := range []struct {
		name  string
		rows  int
		delta float64
	}{
		{"spike up", 1, 60},
		{"spike down", 1, -60},
		{"burst shorter than the window", cfg.Window - 1, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := lsSeries(3000, 3, 1, func(int) float64 { return 10 })
			for i := 2000; i < 2000+tc.rows; i++ {
				xs[i] += tc.delta
			}
			s := lsRun(NewLevelShift(cfg), xs)
			require.Empty(t, lsFires(s, cfg.Reference))
		})
	}
}

// TestLevelShiftCausal: the scores of the first k rows do not depend on the rows after.
func TestLevelShiftCausal(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	xs := lsSeries(3000, 4, 1, lsStep(1500, 10, 40))
	full := lsRun(NewLevelShift(cfg), xs)
	require.NotEmpty(t, lsFires(full, 0))
	for _, k := range []int{1, 300, 1505, 1511, 1512, 2000} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			other := slices.Clone(xs[:k])
			other = append(other, lsSeries(3000-k, 5, 3, lsStep(k+20, -100, 100))...)
			require.Equal(t, full[:k], lsRun(NewLevelShift(cfg), other)[:k])
		})
	}
}

func TestLevelShiftConfigValidate(t *testing.T) {
	require.NoError(t, DefaultLevelShiftConfig().Validate())
	for _, tc := range []struct {
		field string
		edit  func(*LevelShiftConfig)
	}{
		{"Window", func(c *LevelShiftConfig) { c.Window = 0 }},
		{"Window", func(c *LevelShiftConfig) { c.Window = 1 }},
		{"Reference", func(c *LevelShiftConfig) { c.Reference = c.Window - 1 }},
		{"Reference", func(c *LevelShiftConfig) { c.Reference = 1<<20 + 1 }},
		{"MinReference", func(c *LevelShiftConfig) { c.MinReference = 0 }},
		{"MinReference", func(c *LevelShiftConfig) { c.MinReference = c.Reference + 1 }},
		{"Threshold", func(c *LevelShiftConfig) { c.Threshold = 0 }},
		{"Threshold", func(c *LevelShiftConfig) { c.Threshold = math.NaN() }},
		{"ZScale", func(c *LevelShiftConfig) { c.ZScale = -1 }},
		{"ZScale", func(c *LevelShiftConfig) { c.ZScale = math.Inf(1) }},
		{"RelativeFloor", func(c *LevelShiftConfig) { c.RelativeFloor = -0.1 }},
		{"RelativeFloor", func(c *LevelShiftConfig) { c.RelativeFloor = math.NaN() }},
		{"MinScale", func(c *LevelShiftConfig) { c.MinScale = 0 }},
		{"MinScale", func(c *LevelShiftConfig) { c.MinScale = math.Inf(1) }},
	} {
		c := DefaultLevelShiftConfig()
		tc.edit(&c)
		err := c.Validate()
		require.ErrorContains(t, err, "invalid "+tc.field+" ")
		require.PanicsWithValue(t, "research.NewLevelShift: "+err.Error(), func() { NewLevelShift(c) })
	}
}

// TestLevelShiftExtremes: a flat series never scores; huge values and non-finite inputs
// never produce NaN or a score outside [0, 1]; a non-finite value is not learned.
func TestLevelShiftExtremes(t *testing.T) {
	cfg := DefaultLevelShiftConfig()
	rng := rand.New(rand.NewPCG(6, 6))
	flat := func(v float64) []float64 { return slices.Repeat([]float64{v}, 3000) }
	signs := func(mag float64, stepTo float64) []float64 {
		xs := make([]float64, 3000)
		for i := range xs {
			xs[i] = mag
			if rng.IntN(2) == 0 {
				xs[i] = -mag
			}
			if i >= 2000 && stepTo != 0 {
				xs[i] = stepTo
			}
		}
		return xs
	}
	const dontCare = -1 // random signs: whether a run of one sign confirms depends on the draw
	for _, tc := range []struct {
		name  string
		xs    []float64
		fires int
	}{
		{"flat 0", flat(0), 0},
		{"flat 7", flat(7), 0},
		{"flat -3e5", flat(-3e5), 0},
		{"flat 1e300", flat(1e300), 0},
		{"flat 1e300 then -1e300", append(flat(1e300), flat(-1e300)...), 1},
		{"flat 0 then MaxFloat64", append(flat(0), flat(math.MaxFloat64)...), 1},
		{"flat 1e-300 then -1e-300 (below MinScale)", append(flat(1e-300), flat(-1e-300)...), 0},
		{"±1e300", signs(1e300, 0), dontCare},
		{"±1e300 then 1e300", signs(1e300, 1e300), dontCare},
		{"±MaxFloat64", signs(math.MaxFloat64, 0), dontCare},
		{"±MaxFloat64 then -MaxFloat64", signs(math.MaxFloat64, -math.MaxFloat64), dontCare},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lsRun(NewLevelShift(cfg), tc.xs)
			for i, v := range s {
				require.False(t, math.IsNaN(v), "row %d", i)
				require.True(t, v >= 0 && v <= 1, "row %d: %v", i, v)
			}
			if tc.fires != dontCare {
				require.Len(t, lsFires(s, 0), tc.fires)
			}
		})
	}

	t.Run("non-finite values are not learned", func(t *testing.T) {
		xs := lsSeries(3000, 7, 1, lsStep(2000, 10, 40))
		want := lsRun(NewLevelShift(cfg), xs)
		d := NewLevelShift(cfg)
		for i, x := range xs {
			if i%100 == 50 {
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					require.Zero(t, d.Update(0, bad))
				}
			}
			require.Equal(t, want[i], d.Update(0, x), "row %d", i)
		}
	})
}

// TestLevelShiftWindow checks sortedWindow against a sorted copy of the last values.
func TestLevelShiftWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, capacity := range []int{1, 2, 3, 12, 101} {
		w := newSortedWindow(capacity)
		var all []float64
		for step := range 1000 {
			if step == 500 {
				w.reset()
				all = all[:0]
			}
			x := float64(rng.IntN(20)) - 10 // many ties
			if rng.IntN(4) == 0 {
				x = rng.NormFloat64() * 1e6
			}
			old, evicted := w.push(x)
			all = append(all, x)
			if len(all) > capacity {
				require.True(t, evicted)
				require.Equal(t, all[len(all)-capacity-1], old)
			} else {
				require.False(t, evicted)
			}
			kept := all[max(0, len(all)-capacity):]
			for i, v := range kept {
				require.Equal(t, v, w.at(i))
			}
			sorted := slices.Sorted(slices.Values(kept))
			require.Equal(t, sorted, w.sorted)
			m := lsNumpyMedian(sorted)
			require.Equal(t, m, w.median())
			devs := make([]float64, len(sorted))
			for i, v := range sorted {
				devs[i] = math.Abs(v - m)
			}
			slices.Sort(devs)
			require.Equal(t, lsNumpyMedian(devs), w.mad(m))
		}
	}
}

func lsNumpyMedian(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func BenchmarkLevelShiftUpdate(b *testing.B) {
	xs := lsSeries(4096, 9, 1, func(i int) float64 { return 50 + 20*math.Sin(2*math.Pi*float64(i)/288) })
	d := NewLevelShift(DefaultLevelShiftConfig())
	lsRun(d, xs) // warm: both windows are full
	b.ReportAllocs()
	b.SetBytes(8)
	i := 0
	for b.Loop() {
		d.Update(1.4e9+300*float64(i), xs[i&4095])
		i++
	}
}
