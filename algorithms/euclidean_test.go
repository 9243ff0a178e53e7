package algorithms

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSquaredEuclidean(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"empty", nil, nil, 0},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0},
		// (1−2)² + (2−2)² + (3−5)² = 1 + 0 + 4.
		{"simple", []float64{1, 2, 3}, []float64{2, 2, 5}, 5},
		// Common length only: (1−2)² = 1.
		{"truncates to the shorter", []float64{1, 9, 9}, []float64{2}, 1},
		{"symmetric", []float64{2, 2, 5}, []float64{1, 2, 3}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, SquaredEuclidean(tc.a, tc.b))
			require.Equal(t, tc.want, SquaredEuclideanEA(tc.a, tc.b, math.Inf(1)))
		})
	}
}

func TestSquaredEuclideanEA(t *testing.T) {
	// a − b = 1 2 3: partial sums 1, 5, 14.
	a, b := []float64{1, 2, 3}, []float64{0, 0, 0}
	for _, tc := range []struct {
		bsf, want float64
	}{
		{math.Inf(1), 14},
		{math.NaN(), 14}, // NaN never abandons
		{14, 14},         // ties are kept (strict >)
		{13.9, 14},       // abandoned at the last point
		{4.9, 5},         // abandoned at the second point
		{0.5, 1},         // abandoned at the first point
		{-1, 1},
	} {
		require.Equal(t, tc.want, SquaredEuclideanEA(a, b, tc.bsf), "bsf %v", tc.bsf)
	}

	rng := simRNG(5)
	for range 500 {
		n := rng.IntN(64)
		x, y := simZSeries(rng, n), simZSeries(rng, n)
		full := SquaredEuclidean(x, y)
		for _, bsf := range []float64{0, full / 2, full, full * (1 + 1e-12), rng.Float64() * 2 * full, math.Inf(1)} {
			got := SquaredEuclideanEA(x, y, bsf)
			require.LessOrEqual(t, got, full, "a partial sum is <= the full sum")
			if full <= bsf {
				require.Equal(t, full, got, "no abandoning when the distance is within bsf")
			} else {
				require.Greater(t, got, bsf, "an abandoned result is > bsf")
			}
		}
	}
}

func TestOculusEuclideanScore(t *testing.T) {
	for _, tc := range []struct {
		name        string
		q, c        []float64
		want, delta float64
	}{
		{"identical", []float64{3, 1, 4, 1, 5}, []float64{3, 1, 4, 1, 5}, 0, 0},
		// Both scale to [0 12.5 25]: scaling removes offset and amplitude.
		{"scale invariant", []float64{0, 1, 2}, []float64{10, 30, 50}, 0, 0},
		// q → [0 25], c → [0 5 25]; only the first two points count: (5−25)² = 400.
		{"truncated to the shorter", []float64{0, 1}, []float64{0, 1, 5}, 400, 0},
		// The flat query scales to zeros (Oculus: NaN); c → [0 12.5 25]: 156.25 + 625.
		{"flat query", []float64{3, 3, 3}, []float64{0, 1, 2}, 781.25, 0},
		// Squared, not rooted: q → [0 25], c → [25 0]: 625 + 625.
		{"squared distance", []float64{0, 1}, []float64{1, 0}, 1250, 0},
		{"empty", nil, []float64{1, 2}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, OculusEuclideanScore(tc.q, tc.c), tc.delta)
		})
	}
	rng := simRNG(6)
	for range 100 {
		q, c := simSeries(rng, 2+rng.IntN(50)), simSeries(rng, 2+rng.IntN(50))
		n := min(len(q), len(c))
		want := SquaredEuclidean(OculusScale(nil, c)[:n], OculusScale(nil, q)[:n])
		require.InDelta(t, want, OculusEuclideanScore(q, c), 1e-9*(1+want))
	}
}

func BenchmarkSquaredEuclideanEA(b *testing.B) {
	x, y := simBenchPair(256)
	full := SquaredEuclidean(x, y)
	for _, bc := range []struct {
		name string
		bsf  float64
	}{{"no-abandon", math.Inf(1)}, {"abandon-half", full / 2}} {
		b.Run("n=256/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SquaredEuclideanEA(x, y, bc.bsf)
			}
		})
	}
}
