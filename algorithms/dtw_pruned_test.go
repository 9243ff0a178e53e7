package algorithms

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// improvedTerms returns the per-point terms of both passes of LB_Improved for the query a
// and the candidate b with band r: s_j of b against Envelope(a, r) (the columns) and t_i of
// a against Envelope(H, r), H = b projected onto a's envelope (the rows).
func improvedTerms(a, b []float64, r int) (rows, cols []float64) {
	n := len(a)
	u, l := Envelope(a, r, nil, nil)
	cols = make([]float64, n)
	LBKeogh(b, u, l, math.Inf(1), cols)
	h := make([]float64, n)
	for i, v := range b {
		h[i] = min(max(v, l[i]), u[i])
	}
	uh, lh := Envelope(h, r, nil, nil)
	rows = make([]float64, n)
	LBKeogh(a, uh, lh, math.Inf(1), rows)
	return rows, cols
}

// adversarialPair returns pairs the random shapes rarely produce: equal series, a series
// and its negation, constant series, spikes at the band's edge, and values that differ
// only in the last bits.
func adversarialPair(kind, n, r int) (a, b []float64) {
	a, b = make([]float64, n), make([]float64, n)
	for i := range a {
		switch kind {
		case 0: // identical
			a[i] = math.Sin(float64(i) / 3)
			b[i] = a[i]
		case 1: // negation
			a[i] = math.Sin(float64(i) / 3)
			b[i] = -a[i]
		case 2: // constants
			a[i], b[i] = 1, -1
		case 3: // a spike in each, r apart
			if i == n/2 {
				a[i] = 10
			}
			if i == min(n-1, n/2+r) {
				b[i] = 10
			}
		default: // last-bit differences
			a[i] = 0.1 * float64(i%7)
			b[i] = math.Nextafter(a[i], 1)
		}
	}
	return a, b
}

// TestPrunedTermsBoundEveryCell proves the premise of DTWPrunedContext for LB_Keogh and
// LB_Improved's terms on random and adversarial pairs: every cell of the band costs at least
// its row term plus its column term, so the suffix sums never exceed the exact DTW.
func TestPrunedTermsBoundEveryCell(t *testing.T) {
	rng := simRNG(21)
	check := func(a, b []float64, r int) {
		n := len(a)
		rows, cols := improvedTerms(a, b, r)
		for i := range n {
			for j := max(0, i-r); j <= min(n-1, i+r); j++ {
				d := a[i] - b[j]
				c := d * d
				require.LessOrEqual(t, rows[i]+cols[j], c*(1+1e-12)+1e-15, "cell (%d,%d) r=%d", i, j, r)
			}
		}
		d := DTW(a, b, r)
		rs, cs := CumulativeBound(rows), CumulativeBound(cols)
		require.LessOrEqual(t, rs[0]+cs[0], d*(1+1e-12)+1e-15, "LB_Improved <= DTW (n=%d r=%d)", n, r)
	}
	for range 400 {
		n := 1 + rng.IntN(64)
		check(simZSeries(rng, n), simZSeries(rng, n), rng.IntN(n+1))
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
}

// TestDTWPrunedEqualsDTW checks the pruned kernel against DTW: bit for bit when the
// distance is within bsf, +Inf otherwise, with no bound, LB_Keogh's one way or the other,
// and both passes of LB_Improved.
func TestDTWPrunedEqualsDTW(t *testing.T) {
	rng := simRNG(22)
	ctx := context.Background()
	inf := math.Inf(1)
	run := func(a, b []float64, r int) {
		n := len(a)
		want := DTW(a, b, r)
		require.Equal(t, want, simRefDTW(a, b, r))
		rows, cols := improvedTerms(a, b, r)
		rows, cols = CumulativeBound(rows), CumulativeBound(cols)
		u, l := Envelope(b, r, nil, nil)
		keoghA := make([]float64, n)
		LBKeogh(a, u, l, inf, keoghA)
		keoghA = CumulativeBound(keoghA)
		for _, cbs := range [][2][]float64{{nil, nil}, {nil, cols}, {keoghA, nil}, {rows, cols}} {
			for _, bsf := range []float64{inf, want, want * (1 + 1e-9), want + 1, want * 0.999, want / 2, 0, rng.Float64() * 2 * want} {
				got, err := DTWPrunedContext(ctx, a, b, r, bsf, cbs[0], cbs[1])
				require.NoError(t, err)
				if want <= bsf {
					require.Equal(t, want, got, "n=%d r=%d bsf=%v", n, r, bsf)
				} else {
					require.Equal(t, inf, got, "n=%d r=%d bsf=%v want=%v", n, r, bsf, want)
				}
			}
		}
	}
	for range 600 {
		n := 1 + rng.IntN(80)
		run(simZSeries(rng, n), simZSeries(rng, n), rng.IntN(n+2))
	}
	for kind := range 5 {
		for _, n := range []int{1, 2, 5, 33, 256} {
			for _, r := range []int{0, 1, n / 10, n} {
				a, b := adversarialPair(kind, n, r)
				run(a, b, r)
			}
		}
	}
	// Different lengths fall back to the plain kernel.
	a, b := simZSeries(rng, 20), simZSeries(rng, 25)
	got, err := DTWPrunedContext(ctx, a, b, 3, inf, nil, nil)
	require.NoError(t, err)
	require.Equal(t, DTW(a, b, 3), got)
	got, err = DTWPrunedContext(ctx, a, b, 3, 0, nil, nil)
	require.NoError(t, err)
	require.Equal(t, inf, got)
	// A done context stops it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = DTWPrunedContext(cctx, a, a, 3, inf, nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// BenchmarkDTWPruned compares the pruned kernel with DTWEA on z-normalised random walks of
// 256 points, band 26 (the search's), with LB_Improved's bounds and bsf at half the distance
// (an abandoned comparison) and at the distance (a computed one).
func BenchmarkDTWPruned(b *testing.B) {
	rng := simRNG(23)
	const n, r = 256, 26
	x, y := make([]float64, n), make([]float64, n)
	v, w := 0.0, 0.0
	for i := range x {
		v += rng.NormFloat64()
		w += rng.NormFloat64()
		x[i], y[i] = v, w
	}
	x, y = ZNormalize(nil, x), ZNormalize(nil, y)
	d := DTW(x, y, r)
	rows, cols := improvedTerms(x, y, r)
	rows, cols = CumulativeBound(rows), CumulativeBound(cols)
	sum := make([]float64, n)
	for i := range sum {
		sum[i] = rows[i] + cols[i]
	}
	ctx := context.Background()
	var ws DTWPrunedWorkspace
	for _, bsf := range []struct {
		name string
		v    float64
	}{{"computed", d}, {"late", d * 0.9}, {"abandoned", d / 2}} {
		b.Run("ea/"+bsf.name, func(b *testing.B) {
			for b.Loop() {
				DTWEA(x, y, r, bsf.v, sum)
			}
		})
		b.Run("pruned/"+bsf.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = ws.DTW(ctx, x, y, r, bsf.v, rows, cols)
			}
		})
	}
}
