package algorithms

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestZNormalize(t *testing.T) {
	// [1 2 3]: mean 2, population std sqrt(2/3) = 0.816496580927726, z = ∓1.224744871391589.
	z3 := 1 / math.Sqrt(2.0/3.0)
	for _, tc := range []struct {
		name string
		x    []float64
		want []float64
	}{
		{"empty", nil, []float64{}},
		{"single point is flat", []float64{7}, []float64{0}},
		{"constant is flat", []float64{5, 5, 5, 5}, []float64{0, 0, 0, 0}},
		{"zeros are flat", []float64{0, 0, 0}, []float64{0, 0, 0}},
		// std 5e-7 on a mean of 1e6: below 1e-12·|mean| = 1e-6, rounding noise → flat.
		{"near-flat large mean", []float64{1e6, 1e6 + 1e-6, 1e6}, []float64{0, 0, 0}},
		{"population std", []float64{1, 2, 3}, []float64{-z3, 0, z3}},
		// Shift and scale invariance: 10·x − 4 gives the same z.
		{"affine invariant", []float64{6, 16, 26}, []float64{-z3, 0, z3}},
		// [0 0 0 4]: mean 1, population std sqrt((1+1+1+9)/4) = sqrt(3).
		{"skewed", []float64{0, 0, 0, 4}, []float64{-1 / math.Sqrt(3), -1 / math.Sqrt(3), -1 / math.Sqrt(3), 3 / math.Sqrt(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ZNormalize(nil, tc.x)
			require.Len(t, got, len(tc.want))
			require.InDeltaSlice(t, tc.want, got, 1e-12)
		})
	}
}

func TestZNormalizeNaN(t *testing.T) {
	got := ZNormalize(nil, []float64{1, math.NaN(), 3})
	for _, v := range got {
		require.True(t, math.IsNaN(v))
	}
}

func TestZNormalizeReusesDst(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	dst := make([]float64, 1, 10)
	got := ZNormalize(dst, x)
	require.Same(t, &dst[:1][0], &got[0], "dst with enough capacity must be reused")
	in := append([]float64(nil), x...)
	inPlace := ZNormalize(in, in)
	require.Equal(t, got, inPlace, "in place gives the same result")
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { ZNormalize(dst, x) }))
}

func TestZNormalizeMoments(t *testing.T) {
	rng := simRNG(3)
	for range 100 {
		n := 2 + rng.IntN(500)
		x := simSeries(rng, n)
		z := ZNormalize(nil, x)
		mean, ss := 0.0, 0.0
		for _, v := range z {
			mean += v
		}
		mean /= float64(n)
		for _, v := range z {
			ss += (v - mean) * (v - mean)
		}
		std := math.Sqrt(ss / float64(n))
		require.InDelta(t, 0, mean, 1e-12)
		if std != 0 { // flat series come out as zeros
			require.InDelta(t, 1, std, 1e-12)
		}
	}
}

func BenchmarkZNormalize(b *testing.B) {
	for _, n := range []int{256, 1440} {
		x, _ := simBenchPair(n)
		dst := make([]float64, n)
		b.Run(map[int]string{256: "n=256", 1440: "n=1440"}[n], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				ZNormalize(dst, x)
			}
		})
	}
}
