package algorithms

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDTWEAContextEqualsDTWEA(t *testing.T) {
	rng := simRNG(41)
	ctx := context.Background()
	for range 300 {
		n := 1 + rng.IntN(300)
		m := n
		if rng.IntN(4) == 0 {
			m = 1 + rng.IntN(300)
		}
		a, b := simZSeries(rng, n), simZSeries(rng, m)
		r := rng.IntN(n + 2)
		if rng.IntN(5) == 0 {
			r = 600 // a row wider than the large stack buffer
		}
		bsf := math.Inf(1)
		var cb []float64
		if rng.IntN(2) == 0 {
			bsf = DTW(a, b, r) * rng.Float64() * 1.5
		}
		if m == n && rng.IntN(2) == 0 {
			u, l := Envelope(a, r, nil, nil)
			cb = make([]float64, n)
			LBKeogh(b, u, l, math.Inf(1), cb)
			CumulativeBound(cb)
		}
		got, err := DTWEAContext(ctx, a, b, r, bsf, cb)
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(DTWEA(a, b, r, bsf, cb)), math.Float64bits(got), "n=%d m=%d r=%d", n, m, r)
	}
	d, err := DTWEAContext(ctx, nil, nil, 3, math.Inf(1), nil)
	require.NoError(t, err)
	require.Zero(t, d)
	d, err = DTWEAContext(ctx, nil, []float64{1}, 3, math.Inf(1), nil)
	require.NoError(t, err)
	require.True(t, math.IsInf(d, 1))
}

func TestDTWCells(t *testing.T) {
	for _, tc := range []struct {
		n, m, r int
		want    int64
	}{
		{0, 5, 2, 0},
		{5, 5, 0, 5},
		{5, 5, 1, 13},  // 2+3+3+3+2
		{5, 5, 10, 25}, // full
		{256, 256, 256, 256 * 256},
		{4, 6, 0, 17}, // the band widens to |n−m| = 2: rows of 3, 4, 5 and 5 cells
	} {
		require.Equal(t, tc.want, DTWCells(tc.n, tc.m, tc.r), "%+v", tc)
	}
}

// TestContextKernelsStop checks that a cancelled or expired context stops a large comparison
// almost at once, with the context's error.
func TestContextKernelsStop(t *testing.T) {
	rng := simRNG(42)
	a, b := simZSeries(rng, 20_000), simZSeries(rng, 20_000)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	d, err := DTWEAContext(cancelled, a, b, len(a), math.Inf(1), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, math.IsInf(d, 1))
	var ws FastDTWWorkspace
	d, err = ws.FastDTWContext(cancelled, a, b, 50)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, math.IsInf(d, 1))
	require.Less(t, time.Since(start), 50*time.Millisecond) // microseconds, unless the machine is loaded

	// A full 20,000 × 20,000 DTW (4·10⁸ cells) stopped by a deadline mid-way.
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = DTWEAContext(ctx, a, b, len(a), math.Inf(1), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 120*time.Millisecond)

	ctx, cancel3 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel3()
	start = time.Now()
	_, err = ws.FastDTWContext(ctx, a, b, 1000)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 105*time.Millisecond)
}

func TestFastDTWContextEqualsFastDTW(t *testing.T) {
	rng := simRNG(43)
	ctx := context.Background()
	var w1, w2 FastDTWWorkspace
	for range 200 {
		a, b := simSeries(rng, 1+rng.IntN(400)), simSeries(rng, 1+rng.IntN(400))
		radius := rng.IntN(12) - 1
		got, err := w2.FastDTWContext(ctx, a, b, radius)
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(w1.FastDTW(a, b, radius)), math.Float64bits(got), "n=%d m=%d radius=%d", len(a), len(b), radius)
	}
	d, err := w2.FastDTWContext(ctx, nil, []float64{1}, 5)
	require.NoError(t, err)
	require.True(t, math.IsInf(d, 1))
}

// BenchmarkDTWEAContext is BenchmarkDTW/BenchmarkDTWEA's cases through the context-aware
// kernel ("plain" is DTWEA itself, for the comparison), and reports cells per second.
func BenchmarkDTWEAContext(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a timer context, as in a search
	defer cancel()
	for _, n := range []int{256, 2048} {
		x, y := simBenchPair(n)
		for _, r := range []int{SakoeChibaCells(0.1, n), n} {
			cells := float64(DTWCells(n, n, r))
			for _, kernel := range []string{"plain", "ctx"} {
				b.Run(fmt.Sprintf("n=%d/r=%d/%s", n, r, kernel), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if kernel == "plain" {
							DTWEA(x, y, r, math.Inf(1), nil)
						} else {
							_, _ = DTWEAContext(ctx, x, y, r, math.Inf(1), nil)
						}
					}
					b.ReportMetric(cells*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
				})
			}
		}
	}
}

// BenchmarkFastDTWContext compares FastDTWContext with FastDTW and reports the cost of one
// comparison in DTW cells (its time over a plain DTW cell's), which the search's work
// estimate uses.
func BenchmarkFastDTWContext(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, n := range []int{256, 4096} {
		x, y := simBenchPair(n)
		for _, radius := range []int{5, 50} {
			for _, kernel := range []string{"plain", "ctx"} {
				b.Run(fmt.Sprintf("n=%d/radius=%d/%s", n, radius, kernel), func(b *testing.B) {
					var ws FastDTWWorkspace
					b.ReportAllocs()
					for b.Loop() {
						if kernel == "plain" {
							ws.FastDTW(x, y, radius)
						} else {
							_, _ = ws.FastDTWContext(ctx, x, y, radius)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*(2*radius+3)), "ns/(n·(2radius+3))")
				})
			}
		}
	}
}
