package algorithms

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPairwiseSum(t *testing.T) {
	// Fewer than 8: left to right.
	require.Equal(t, 0.0, pairwiseSum([]float64{1e16, 1, 1, -1e16})) // the 1s are absorbed

	// Up to 128: eight interleaved accumulators combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)),
	// then the remainder left to right.
	a := make([]float64, 19)
	for i := range a {
		a[i] = float64(i) * 0.1
	}
	var r [8]float64
	for i := range 16 {
		r[i%8] += a[i]
	}
	want := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
	want = ((want + a[16]) + a[17]) + a[18]
	require.Equal(t, want, pairwiseSum(a))

	// Longer: split at a multiple of 8 near the middle.
	b := make([]float64, 300)
	for i := range b {
		b[i] = 1 / float64(i+1)
	}
	require.Equal(t, pairwiseSum(b[:144])+pairwiseSum(b[144:]), pairwiseSum(b))

	// numpy reduces in chunks of 8192 (its buffer size).
	c := make([]float64, 9000)
	for i := range c {
		c[i] = 1 / float64(i+1)
	}
	require.Equal(t, (0+pairwiseSum(c[:8192]))+pairwiseSum(c[8192:]),
		numpySumOf(len(c), func(i int) float64 { return c[i] }))
}

func TestPandasAndBottleneckReductions(t *testing.T) {
	nan := math.NaN()
	v := []float64{1, nan, 2, 3, nan, 6}
	at := func(i int) float64 { return v[i] }
	require.Equal(t, 3.0, pandasMeanOf(len(v), at))
	require.InDelta(t, math.Sqrt(14.0/3), bottleneckStdOf(len(v), at, 1), 1e-15)
	require.True(t, math.IsNaN(bottleneckStdOf(2, at, 1)), "one number, ddof 1")
	require.True(t, math.IsNaN(pandasMeanOf(0, at)))
	require.Equal(t, math.Sqrt(2.0/3), numpyStdOf(3, func(i int) float64 { return float64(i) }, 1))
}

func TestMedian(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	require.Equal(t, 2.0, median([]float64{math.NaN(), 3, 1, math.NaN()}))
	require.True(t, math.IsNaN(median([]float64{math.NaN()})))
	require.True(t, math.IsNaN(median(nil)))

	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 101, 1000, 4096} {
		for range 20 {
			a := make([]float64, n)
			for i := range a {
				a[i] = math.Round(rng.NormFloat64() * 5) // many ties
			}
			sorted := slices.Clone(a)
			slices.Sort(sorted)
			want := sorted[n/2]
			if n%2 == 0 {
				want = 0.5 * (sorted[n/2-1] + sorted[n/2])
			}
			require.Equal(t, want, median(a), "n=%d", n)
		}
	}
}
