package algorithms

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPAA(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float64
		n    int
		want []float64
	}{
		{"empty input", nil, 4, []float64{}},
		{"n=0", []float64{1, 2}, 0, []float64{}},
		{"n<0", []float64{1, 2}, -3, []float64{}},
		{"identity", []float64{3, 1, 4, 1, 5}, 5, []float64{3, 1, 4, 1, 5}},
		{"n=1 is the mean", []float64{1, 2, 3, 6}, 1, []float64{3}},
		// Blocks of 2: (1+2)/2, (3+4)/2.
		{"classic PAA", []float64{1, 2, 3, 4}, 2, []float64{1.5, 3.5}},
		// Frames [0,1.5) and [1.5,3): (1 + 2·½)/1.5 = 4/3 and (2·½ + 3)/1.5 = 8/3.
		{"fractional frames", []float64{1, 2, 3}, 2, []float64{4.0 / 3, 8.0 / 3}},
		// Frames of width 2/3: [0,⅔) lies in point 0 → 1; [⅔,4/3) is ⅓ of each → 1.5;
		// [4/3,2) lies in point 1 → 2.
		{"upsampling straddles", []float64{1, 2}, 3, []float64{1, 1.5, 2}},
		// Frames of width ½: each point is repeated.
		{"upsampling repeats", []float64{1, 2}, 4, []float64{1, 1, 2, 2}},
		{"single point upsampled", []float64{7}, 3, []float64{7, 7, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PAA(nil, tc.x, tc.n)
			require.Len(t, got, len(tc.want))
			require.InDeltaSlice(t, tc.want, got, 1e-15)
		})
	}
}

func TestPAAProperties(t *testing.T) {
	rng := simRNG(4)
	for range 300 {
		l := 1 + rng.IntN(200)
		x := simSeries(rng, l)
		require.Equal(t, x, PAA(nil, x, l), "n == len(x) is the identity, bit for bit")
		n := 1 + rng.IntN(2*l+3)
		got := PAA(nil, x, n)
		require.Len(t, got, n)
		require.InDelta(t, simMean(x), simMean(got), 1e-9*(1+simMaxAbs(x)), "PAA preserves the mean (L=%d n=%d)", l, n)
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		tol := 1e-9 * (1 + simMaxAbs(x))
		for _, v := range got {
			if v < lo-tol || v > hi+tol {
				require.Failf(t, "a mean must stay within the range", "%v not in [%v, %v]", v, lo, hi)
			}
		}
		if n <= l {
			in := append([]float64(nil), x...)
			require.InDeltaSlice(t, got, PAA(in[:0], in, n), 0, "in place when n <= len(x)")
		}
	}
}

func simMean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func simMaxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, v, -v)
	}
	return m
}

func BenchmarkPAA(b *testing.B) {
	x, _ := simBenchPair(1440)
	dst := make([]float64, 256)
	b.Run("1440to256", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(8 * 1440)
		for b.Loop() {
			PAA(dst, x, 256)
		}
	})
}
