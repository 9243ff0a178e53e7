package algorithms

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// simRNG is the seeded generator of the distance tests (reproducible failures).
func simRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// simSeries returns n points of a random shape: white noise, a random walk, a series of
// small integers (many ties and flat stretches) or, rarely, a flat series.
func simSeries(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	kind := rng.IntN(10)
	v := rng.NormFloat64() * 10
	for i := range x {
		switch {
		case kind < 4:
			x[i] = rng.NormFloat64()
		case kind < 8:
			v += rng.NormFloat64()
			x[i] = v
		case kind < 9:
			x[i] = float64(rng.IntN(4))
		default:
			x[i] = 3
		}
	}
	return x
}

// simZSeries is simSeries z-normalised, the input the UCR kernels expect.
func simZSeries(rng *rand.Rand, n int) []float64 {
	return ZNormalize(nil, simSeries(rng, n))
}

// simRefDTW is the textbook O(n·m) DTW over the full matrix: squared local cost, band
// |i−j| <= r widened to |n−m| like DTW. It computes each cell with the same floating-point
// operations as DTW (min of the three neighbours, then + d²), so results match bit for bit.
func simRefDTW(a, b []float64, r int) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		if n == m {
			return 0
		}
		return math.Inf(1)
	}
	r = max(r, 0, n-m, m-n)
	inf := math.Inf(1)
	D := make([][]float64, n+1)
	for i := range D {
		D[i] = make([]float64, m+1)
		for j := range D[i] {
			D[i][j] = inf
		}
	}
	D[0][0] = 0
	for i := 1; i <= n; i++ {
		for j := max(1, i-r); j <= min(m, i+r); j++ {
			best := min(D[i-1][j-1], D[i-1][j], D[i][j-1])
			d := a[i-1] - b[j-1]
			D[i][j] = best + float64(d*d)
		}
	}
	return D[n][m]
}

func TestDTW(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name string
		a, b []float64
		r    int
		want float64
	}{
		{"both empty", nil, nil, 3, 0},
		{"one empty", []float64{1}, nil, 3, inf},
		{"single points", []float64{0}, []float64{3}, 0, 9},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 1, 0},
		// Diagonal only: (0−0)² + (0−1)² + (1−1)² = 1.
		{"r=0 is ED", []float64{0, 0, 1}, []float64{0, 1, 1}, 0, 1},
		// Path (0,0) (1,0) (2,1) (2,2) costs 0+0+0+0: the step is absorbed by warping.
		{"warp absorbs a shift", []float64{0, 0, 1}, []float64{0, 1, 1}, 1, 0},
		// Negative r counts as 0.
		{"negative r", []float64{0, 0, 1}, []float64{0, 1, 1}, -5, 1},
		// D(0,0)=0 D(0,1)=4; D(1,0)=1 D(1,1)=1; D(2,1)=min(1,1,·)+0=1. The band is widened from
		// 0 to |3−2| = 1 so that a path exists.
		{"unequal lengths", []float64{0, 1, 2}, []float64{0, 2}, 0, 1},
		{"unequal lengths full", []float64{0, 1, 2}, []float64{0, 2}, 10, 1},
		// a = 0 0 0 5, b = 5 0 0 0: ED = 25 + 25 = 50; with r=1 the path (0,0) (1,1)... cannot
		// reach the far 5s, with r=3 the 5s still have to pair with a 0 (both ends are pinned):
		// best = 25 + 25 = 50 either way.
		{"pinned ends", []float64{0, 0, 0, 5}, []float64{5, 0, 0, 0}, 3, 50},
		// a = 1 5 1 1, b = 1 1 5 1: r=0 pays 16+16 = 32, r=1 aligns the peaks for free.
		{"peak shift r=0", []float64{1, 5, 1, 1}, []float64{1, 1, 5, 1}, 0, 32},
		{"peak shift r=1", []float64{1, 5, 1, 1}, []float64{1, 1, 5, 1}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, DTW(tc.a, tc.b, tc.r))
			require.Equal(t, tc.want, DTWEA(tc.a, tc.b, tc.r, inf, nil))
			require.Equal(t, tc.want, simRefDTW(tc.a, tc.b, tc.r))
		})
	}
}

func TestDTWMatchesReference(t *testing.T) {
	rng := simRNG(1)
	// Lengths up to 600 cover all three row storages (stack small/large, heap).
	for _, n := range []int{1, 2, 3, 5, 8, 13, 31, 64, 100, 600} {
		reps := 4
		if n > 100 {
			reps = 1
		}
		for range reps {
			m := n
			if rng.IntN(3) == 0 {
				m = max(1, n+rng.IntN(9)-4)
			}
			a, b := simZSeries(rng, n), simZSeries(rng, m)
			for _, r := range []int{0, 1, 2, n / 10, n / 2, n - 1, n, 2*n + 7} {
				want := simRefDTW(a, b, r)
				require.Equal(t, want, DTW(a, b, r), "n=%d m=%d r=%d", n, m, r)
			}
		}
	}
}

func TestDTWProperties(t *testing.T) {
	rng := simRNG(2)
	inf := math.Inf(1)
	for iter := range 120 {
		n := 1 + rng.IntN(32)
		a, b := simZSeries(rng, n), simZSeries(rng, n)
		ed := SquaredEuclidean(a, b)
		require.Equal(t, ed, DTW(a, b, 0), "DTW(r=0) must be ED bit for bit (iter %d)", iter)
		prev := inf
		for r := 0; r <= n; r++ {
			d := DTW(a, b, r)
			require.LessOrEqual(t, d, prev, "DTW must not grow with r (iter %d, r %d)", iter, r)
			prev = d
			require.Equal(t, d, DTWEA(a, b, r, inf, nil), "DTWEA(+Inf) == DTW")
			require.Equal(t, d, DTW(b, a, r), "DTW is symmetric")
			if r%3 != iter%3 && r != n {
				continue // the early-abandoning checks on every third band
			}

			// Early abandoning against several best-so-far values, with and without the
			// cumulative LB_Keogh bound (both orientations).
			u, l := Envelope(a, r, nil, nil)
			cbB := make([]float64, n)
			LBKeogh(b, u, l, inf, cbB)
			CumulativeBound(cbB)
			u2, l2 := Envelope(b, r, nil, nil)
			cbA := make([]float64, n)
			LBKeogh(a, u2, l2, inf, cbA)
			CumulativeBound(cbA)
			for _, bsf := range []float64{0, d * 0.5, d * 0.999, d, d * 1.001, d * 2, rng.Float64() * 2 * d} {
				for _, cb := range [][]float64{nil, cbA, cbB} {
					got := DTWEA(a, b, r, bsf, cb)
					if got != d {
						require.Greater(t, got, bsf, "DTWEA must be DTW or > bsf")
					}
					if d < bsf*(1-1e-12) {
						require.Equal(t, d, got, "DTWEA abandoned a candidate under bsf (r=%d bsf=%v)", r, bsf)
					}
				}
			}
		}
	}
}

func TestSakoeChibaCells(t *testing.T) {
	for _, tc := range []struct {
		window float64
		n      int
		want   int
	}{
		// The UCR learned windows of shared/ucr/REFERENCE.md: r = ceil(w/100·L).
		{0.11, 128, 15}, // CBF: 14.08 → 15 (floor would give 14 and the wrong error rate)
		{0.02, 350, 7},  // FaceFour: exactly 7
		{0.06, 60, 4},   // SyntheticControl: 3.5999999999999996 → 4
		{0.03, 275, 9},  // Trace: 8.25 → 9
		{0.10, 256, 26}, // 25.6 → 26, the benchmark band
		{0.07, 100, 7},  // 7.000000000000001 by float arithmetic, still 7
		{0.001, 10, 1},  // 0.01 → 1
		{0, 100, 0},
		{-0.5, 100, 0},
		{math.NaN(), 100, 0},
		{1, 100, 100},
		{2.5, 10, 10},
		{0.5, 0, 0},
	} {
		t.Run(fmt.Sprint(tc.window, "x", tc.n), func(t *testing.T) {
			require.Equal(t, tc.want, SakoeChibaCells(tc.window, tc.n))
		})
	}
}

// simBenchPair is two z-normalised random walks of n points.
func simBenchPair(n int) (a, b []float64) {
	rng := simRNG(42)
	walk := func() []float64 {
		x := make([]float64, n)
		v := 0.0
		for i := range x {
			v += rng.NormFloat64()
			x[i] = v
		}
		return ZNormalize(x, x)
	}
	return walk(), walk()
}

func BenchmarkDTW(b *testing.B) {
	x, y := simBenchPair(256)
	for _, r := range []int{26, 256} {
		name := fmt.Sprintf("n=256/r=%d", r)
		if r == 256 {
			name = "n=256/full"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				DTW(x, y, r)
			}
		})
	}
}

func BenchmarkDTWEA(b *testing.B) {
	x, y := simBenchPair(256)
	const r = 26
	d := DTW(x, y, r)
	u, l := Envelope(x, r, nil, nil)
	cb := make([]float64, len(y))
	LBKeogh(y, u, l, math.Inf(1), cb)
	CumulativeBound(cb)
	for _, bc := range []struct {
		name string
		bsf  float64
		cb   []float64
	}{
		{"no-abandon", math.Inf(1), nil},
		{"abandon-half/row-min", d / 2, nil},
		{"abandon-half/cb", d / 2, cb},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				DTWEA(x, y, r, bc.bsf, bc.cb)
			}
		})
	}
}
