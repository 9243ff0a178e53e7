package algorithms

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// simNaiveEnvelope is the O(n·r) definition of the envelope.
func simNaiveEnvelope(x []float64, r int) (u, l []float64) {
	n := len(x)
	u, l = make([]float64, n), make([]float64, n)
	for i := range x {
		seg := x[max(0, i-max(r, 0)):min(n, i+max(r, 0)+1)]
		u[i], l[i] = seg[0], seg[0]
		for _, v := range seg {
			u[i], l[i] = max(u[i], v), min(l[i], v)
		}
	}
	return u, l
}

func TestEnvelope(t *testing.T) {
	x := []float64{1, 3, 2, 5, 4}
	for _, tc := range []struct {
		name string
		r    int
		u, l []float64
	}{
		{"r=0 copies", 0, x, x},
		{"negative r copies", -2, x, x},
		// Windows [1 3] [1 3 2] [3 2 5] [2 5 4] [5 4].
		{"r=1", 1, []float64{3, 3, 5, 5, 5}, []float64{1, 1, 2, 2, 4}},
		// Windows [1 3 2] [1 3 2 5] [1 3 2 5 4] [3 2 5 4] [2 5 4].
		{"r=2", 2, []float64{3, 5, 5, 5, 5}, []float64{1, 1, 1, 2, 2}},
		{"r beyond the length", 10, []float64{5, 5, 5, 5, 5}, []float64{1, 1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, l := Envelope(x, tc.r, nil, nil)
			require.Equal(t, tc.u, u)
			require.Equal(t, tc.l, l)
		})
	}
	u, l := Envelope(nil, 3, nil, nil)
	require.Empty(t, u)
	require.Empty(t, l)

	rng := simRNG(7)
	// Up to 700 points: all three deque storages (stack small/large, heap).
	for _, n := range []int{1, 2, 3, 7, 64, 65, 200, 512, 513, 700} {
		x := simSeries(rng, n)
		for _, r := range []int{0, 1, 2, 3, n / 10, n / 3, n - 1, n, n + 5} {
			wu, wl := simNaiveEnvelope(x, r)
			u, l := Envelope(x, r, nil, nil)
			require.Equal(t, wu, u, "n=%d r=%d", n, r)
			require.Equal(t, wl, l, "n=%d r=%d", n, r)
		}
	}

	up, lo := make([]float64, 100), make([]float64, 100)
	x = simSeries(rng, 100)
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { Envelope(x, 10, up, lo) }))
}

func TestLBKim(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name string
		a, b []float64
		bsf  float64
		want float64
	}{
		{"empty", nil, []float64{1}, inf, 0},
		// One cell: the exact distance.
		{"single points", []float64{1}, []float64{4}, inf, 9},
		// Two points each: first (0−1)² + last (3−1)² = 1 + 4; no shells (front and back
		// would overlap).
		{"first and last", []float64{0, 3}, []float64{1, 1}, inf, 5},
		// Six points: first 0 + last 0, shell 1 front min{(a1−b0)², (a0−b1)², (a1−b1)²} =
		// min{1, 1, 0} = 0 → the series are equal, LB 0.
		{"equal series", []float64{0, 1, 2, 3, 4, 5}, []float64{0, 1, 2, 3, 4, 5}, inf, 0},
		// a = 0 0 0 0 0 0, b = 1 2 2 2 2 1: first 1 + last 1; front shell 1 = min over
		// (a1,b0)=1 (a0,b1)=4 (a1,b1)=4 → 1; back shell 1 = 1 likewise; shell 2 front =
		// min{(a0,b2),(a1,b2),(a2,b2),(a2,b1),(a2,b0)} = min{4,4,4,4,1} = 1, back the same.
		// LB = 6, loose but valid: DTW is 18 (asserted below).
		{"three shells", []float64{0, 0, 0, 0, 0, 0}, []float64{1, 2, 2, 2, 2, 1}, inf, 6},
		// Early abandoning: 1 + 1 > 1.5 already after the first and last points.
		{"abandons", []float64{0, 0, 0, 0, 0, 0}, []float64{1, 2, 2, 2, 2, 1}, 1.5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, LBKim(tc.a, tc.b, tc.bsf))
		})
	}
	require.Equal(t, 18.0, DTW([]float64{0, 0, 0, 0, 0, 0}, []float64{1, 2, 2, 2, 2, 1}, 6))
}

func TestLowerBoundsBelowDTW(t *testing.T) {
	rng := simRNG(8)
	inf := math.Inf(1)
	for iter := range 150 {
		n := 1 + rng.IntN(32)
		m := n
		if iter%4 == 0 {
			m = 1 + rng.IntN(32) // LB_Kim also holds for unequal lengths
		}
		a, b := simZSeries(rng, n), simZSeries(rng, m)
		full := DTW(a, b, n+m)
		kim := LBKim(a, b, inf)
		require.LessOrEqual(t, kim, full*(1+1e-12)+1e-12, "LB_Kim <= full DTW (n=%d m=%d)", n, m)
		for _, bsf := range []float64{0, kim / 2, kim, rng.Float64() * 2 * kim} {
			got := LBKim(a, b, bsf)
			require.LessOrEqual(t, got, kim, "an abandoned LB_Kim is a partial sum")
			if got != kim {
				require.Greater(t, got, bsf)
			}
		}
		if m != n {
			continue
		}
		for r := 0; r <= n; r += 1 + rng.IntN(4) {
			d := DTW(a, b, r)
			tol := d*1e-12 + 1e-12
			require.LessOrEqual(t, kim, d+tol, "LB_Kim <= DTW(r=%d)", r)
			u, l := Envelope(a, r, nil, nil)
			cb := make([]float64, n)
			lb := LBKeogh(b, u, l, inf, cb)
			require.LessOrEqual(t, lb, d+tol, "LB_Keogh(b, env(a)) <= DTW(a, b, r=%d)", r)
			require.LessOrEqual(t, lb, DTW(b, a, r)+tol, "LB_Keogh <= DTW(b, a)")
			if r > 0 {
				require.LessOrEqual(t, lb, DTW(a, b, r-1)+tol, "an envelope of r bounds every r' <= r")
			}
			sum := 0.0
			for _, v := range cb {
				sum += v
			}
			require.InDelta(t, lb, sum, 1e-12*(1+lb), "cb holds the contributions")
			// Early abandoning.
			for _, bsf := range []float64{0, lb / 2, lb, rng.Float64() * 2 * lb} {
				cb2 := make([]float64, n)
				for i := range cb2 {
					cb2[i] = 99 // stale values must not survive an abandon
				}
				got := LBKeogh(b, u, l, bsf, cb2)
				require.LessOrEqual(t, got, lb)
				require.LessOrEqual(t, got, d+tol)
				if got != lb {
					require.Greater(t, got, bsf)
				}
				for i, v := range cb2 {
					require.LessOrEqual(t, v, cb[i], "cb after an abandon is still a bound")
				}
			}
		}
	}
}

func TestLBKeogh(t *testing.T) {
	// Envelope of q = 0 1 2 1 0 with r = 1: u = 1 2 2 2 1, l = 0 0 1 0 0.
	u, l := Envelope([]float64{0, 1, 2, 1, 0}, 1, nil, nil)
	require.Equal(t, []float64{1, 2, 2, 2, 1}, u)
	require.Equal(t, []float64{0, 0, 1, 0, 0}, l)
	// c = 3 1 0 1 −1: above u by 2 → 4; inside; below l by 1 → 1; inside; below by 1 → 1.
	c := []float64{3, 1, 0, 1, -1}
	cb := make([]float64, 5)
	require.Equal(t, 6.0, LBKeogh(c, u, l, math.Inf(1), cb))
	require.Equal(t, []float64{4, 0, 1, 0, 1}, cb)
	require.Equal(t, []float64{6, 2, 2, 1, 1}, CumulativeBound(cb))
	// Abandoned after the first point (4 > 3): the rest of cb is zeroed.
	cb = []float64{9, 9, 9, 9, 9}
	require.Equal(t, 4.0, LBKeogh(c, u, l, 3, cb))
	require.Equal(t, []float64{4, 0, 0, 0, 0}, cb)
	require.Equal(t, 6.0, LBKeogh(c, u, l, math.Inf(1), nil))
	require.Equal(t, []float64{}, CumulativeBound([]float64{}))
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { LBKeogh(c, u, l, math.Inf(1), cb) }))
}

// Example_ucrSearch is the UCR suite's exact 1-NN search under banded DTW: the cheap
// lower bounds discard most candidates, and DTW itself is abandoned early.
func Example_ucrSearch() {
	query := ZNormalize(nil, []float64{0, 1, 3, 6, 3, 1, 0, 0})
	candidates := [][]float64{
		ZNormalize(nil, []float64{0, 0, 0, 1, 0, 0, 0, 0}),
		ZNormalize(nil, []float64{0, 0, 1, 3, 6, 3, 1, 0}), // the same bump, shifted by one
		ZNormalize(nil, []float64{6, 3, 1, 0, 0, 1, 3, 6}),
	}
	r := SakoeChibaCells(0.2, len(query)) // a 20 % window: 2 cells
	upper, lower := Envelope(query, r, nil, nil)
	cb := make([]float64, len(query))
	best, bsf := -1, math.Inf(1)
	for i, c := range candidates {
		if LBKim(query, c, bsf) > bsf || LBKeogh(c, upper, lower, bsf, cb) > bsf {
			continue // cannot beat the best so far
		}
		if d := DTWEA(query, c, r, bsf, CumulativeBound(cb)); d < bsf {
			best, bsf = i, d
		}
	}
	fmt.Printf("nearest: %d, distance %.3f\n", best, math.Sqrt(bsf))
	// Output: nearest: 1, distance 0.000
}

func BenchmarkEnvelope(b *testing.B) {
	x, _ := simBenchPair(256)
	u, l := make([]float64, 256), make([]float64, 256)
	b.Run("n=256/r=26", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Envelope(x, 26, u, l)
		}
	})
}

func BenchmarkLBKeogh(b *testing.B) {
	x, y := simBenchPair(256)
	u, l := Envelope(x, 26, nil, nil)
	cb := make([]float64, 256)
	full := LBKeogh(y, u, l, math.Inf(1), nil)
	for _, bc := range []struct {
		name string
		bsf  float64
		cb   []float64
	}{
		{"no-abandon", math.Inf(1), nil},
		{"no-abandon/cb", math.Inf(1), cb},
		{"abandon-half", full / 2, nil},
	} {
		b.Run("n=256/r=26/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				LBKeogh(y, u, l, bc.bsf, bc.cb)
			}
		})
	}
}

func BenchmarkLBKim(b *testing.B) {
	x, y := simBenchPair(256)
	b.ReportAllocs()
	for b.Loop() {
		LBKim(x, y, math.Inf(1))
	}
}

// TestLBImprovedSecond checks the fused second pass against its definition (LBKeogh of the
// query against the envelope of the projection), bit for bit, with and without abandoning,
// and that LB_Improved stays below DTW, on random and adversarial pairs.
func TestLBImprovedSecond(t *testing.T) {
	rng := simRNG(31)
	inf := math.Inf(1)
	check := func(q, c []float64, r int) {
		n := len(q)
		u, l := Envelope(q, r, nil, nil)
		h := make([]float64, n)
		for i, v := range c {
			h[i] = min(max(v, l[i]), u[i])
		}
		uh, lh := Envelope(h, r, nil, nil)
		wantCB := make([]float64, n)
		want := LBKeogh(q, uh, lh, inf, wantCB)
		first := LBKeogh(c, u, l, inf, nil)
		require.LessOrEqual(t, first+want, DTW(q, c, r)*(1+1e-12)+1e-15, "LB_Improved <= DTW (n=%d r=%d)", n, r)
		for _, bsf := range []float64{inf, want, want / 2, 0, rng.Float64() * 2 * want} {
			wcb := make([]float64, n)
			wantAb := LBKeogh(q, uh, lh, bsf, wcb)
			gh, gcb := make([]float64, n), make([]float64, n)
			for i := range gcb {
				gcb[i] = 99 // stale values must not survive an abandon
			}
			got := LBImprovedSecond(q, c, u, l, r, bsf, gh, gcb)
			require.Equal(t, wantAb, got, "n=%d r=%d bsf=%v", n, r, bsf)
			require.Equal(t, wcb, gcb)
			if bsf == inf {
				require.Equal(t, h, gh)
				require.Equal(t, wantCB, gcb)
			}
			require.Equal(t, got, LBImprovedSecond(q, c, u, l, r, bsf, gh, nil))
		}
	}
	for _, n := range []int{1, 2, 3, 9, 64, 256, 513} {
		for range 30 {
			check(simZSeries(rng, n), simZSeries(rng, n), rng.IntN(n+2))
		}
	}
	for kind := range 5 {
		for _, n := range []int{1, 2, 5, 33, 256} {
			for _, r := range []int{0, 1, n / 10, n} {
				a, b := adversarialPair(kind, n, r)
				check(a, b, r)
				check(b, a, r)
			}
		}
	}
	// Mismatched lengths: no bound.
	q := simZSeries(rng, 10)
	require.Equal(t, 0.0, LBImprovedSecond(q, q[:5], q, q, 2, inf, make([]float64, 10), nil))
	require.Equal(t, 0.0, LBImprovedSecond(nil, nil, nil, nil, 2, inf, nil, nil))
}

func BenchmarkLBImprovedSecond(b *testing.B) {
	q, c := simBenchPair(256)
	u, l := Envelope(q, 26, nil, nil)
	h, cb := make([]float64, 256), make([]float64, 256)
	b.Run("n=256/r=26", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			LBImprovedSecond(q, c, u, l, 26, math.Inf(1), h, cb)
		}
	})
}
