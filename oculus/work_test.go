package oculus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// workCorpus is 300 random walks of 2,000 points and 3 of 20,000 (native-length DTW of
// 4·10⁸ cells per comparison).
func workCorpus(t *testing.T) (*env, map[string][]float64) {
	t.Helper()
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(21, 22))
	corpus := map[string][]float64{}
	for i := range 300 {
		corpus[fmt.Sprintf("w.m%03d", i)] = randomWalk(rng, 2000)
	}
	for i := range 3 {
		corpus[fmt.Sprintf("long.m%d", i)] = randomWalk(rng, 20_000)
	}
	e.put(corpus)
	return e, corpus
}

func TestSearchRefusesTooMuchWork(t *testing.T) {
	e, corpus := workCorpus(t)
	e.cfg.SearchMaxWork = 10_000_000
	s := e.synced()
	rng := rand.New(rand.NewPCG(23, 24))
	long := randomWalk(rng, 20_000)
	for _, tc := range []struct {
		name string
		q    Query
		want []string // in the message
	}{
		// Native length: 3 comparisons of 20,000² cells, no stored representation.
		{"dtw native", Query{Values: long, Window: ptr(1.0), K: 1000, Length: ptr(0)},
			[]string{"cannot run this dtw search", "3 series", "400000000 cells per comparison", "length 20000, band 20000", "--search-max-work 10000000", "smaller length or window"}},
		// Stored length 256, full band: 65,536 cells per comparison; the 303 phase-1 seeds
		// alone exceed the limit.
		{"dtw stored seeds", Query{Values: long, Window: ptr(1.0), K: 1000},
			[]string{"303 phase-1 seeds (of 303 series)", "65536 cells per comparison"}},
		{"dtw resampled", Query{Values: long, Window: ptr(1.0), Length: ptr(512)},
			[]string{"303 series", "band 512"}},
		{"euclidean native", Query{Values: long, Method: MethodEuclidean, Length: ptr(0), Normalize: "none"},
			[]string{"cannot run this euclidean search"}},
		{"fastdtw", Query{Values: long, Method: MethodFastDTW, Radius: ptr(1000), Length: ptr(0)},
			[]string{"cannot run this fastdtw search", "radius 1000", "smaller radius"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "euclidean native" {
				s.cfg.SearchMaxWork = 50_000 // 3 × 20,000
			}
			defer func() { s.cfg.SearchMaxWork = 10_000_000 }()
			start := time.Now()
			_, err := s.Search(context.Background(), tc.q)
			require.Less(t, time.Since(start), 100*time.Millisecond)
			require.ErrorIs(t, err, ErrTooMuchWork)
			require.ErrorIs(t, err, ErrBadQuery)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	// Over the limit before the bounds (303 × 13,000 cells), but the LB_PAA pass leaves only
	// the query metric's exact copies: the search runs, and is exact.
	q := Query{Metric: "w.m007", K: 1, IncludeSelf: true}
	res, err := s.Search(context.Background(), q)
	require.NoError(t, err)
	s.cfg.SearchMaxWork = 1_000_000
	res2, err := s.Search(context.Background(), q)
	require.NoError(t, err)
	requireSameHits(t, bruteForce(corpus, q, 256), res2.Results, "bounded")
	require.Equal(t, res.Results, res2.Results)

	// The default limit allows the query (20,000 values, window 1.0, k 1000).
	s.cfg.SearchMaxWork = 4_000_000_000
	res, err = s.Search(context.Background(), Query{Values: long, Window: ptr(1.0), K: 1000})
	require.NoError(t, err)
	require.Len(t, res.Results, 303)
}

// TestSearchStopsAtDeadline runs allowed but heavy searches (native-length DTW and FastDTW
// of 20,000 points) under a short deadline: they end with context.DeadlineExceeded soon
// after it.
func TestSearchStopsAtDeadline(t *testing.T) {
	e, _ := workCorpus(t)
	s := e.synced()
	long := randomWalk(rand.New(rand.NewPCG(25, 26)), 20_000)
	for _, q := range []Query{
		{Values: long, Window: ptr(1.0), Length: ptr(0)},                              // 1.2·10⁹ cells
		{Values: long, Method: MethodFastDTW, Radius: ptr(20), Length: ptr(0), K: 30}, // ~3·10⁹
	} {
		const deadline = 150 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		_, err := s.Search(ctx, q)
		took := time.Since(start)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, q.Method)
		require.Less(t, took, deadline+100*time.Millisecond, q.Method)
	}

	// --search-timeout itself.
	s.cfg.SearchTimeout = 100 * time.Millisecond
	start := time.Now()
	_, err := s.Search(context.Background(), Query{Values: long, Window: ptr(1.0), Length: ptr(0)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "--search-timeout 100ms")
	require.Less(t, time.Since(start), 200*time.Millisecond)
}

func TestSearchAfterClose(t *testing.T) {
	e, _ := workCorpus(t)
	s := e.synced()
	_, err := s.Search(context.Background(), Query{Metric: "w.m001"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	for _, q := range []Query{{Metric: "w.m001"}, {Values: []float64{1, 2, 3, 2}}, {Values: []float64{1, 2, 3, 2}, Method: MethodFastDTW}} {
		_, err = s.Search(context.Background(), q)
		require.ErrorIs(t, err, ErrClosed)
	}
	_, err = s.Sync(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Rebuild(context.Background()), ErrClosed)
}

func TestFastCells(t *testing.T) {
	require.Equal(t, int64(fastCellCost*10*12), fastCells(10, 12, 8))          // full DTW: 10 ≤ 8+2
	require.Equal(t, int64(2*fastCellCost*256*13), fastCells(256, 256, 5))     // 2·n·(2r+3)
	require.Equal(t, int64(2*fastCellCost*1000*100), fastCells(100, 1000, 60)) // the band is capped at the shorter length
	require.Equal(t, int64(9_223_372_036_854_775_807), mulSat(1<<40, 1<<40))
}

// TestSearchRefusedAfterBounds: over the limit before and after the LB_PAA pass (window 1:
// the bounds prune nothing), refused once the seeds are compared.
func TestSearchRefusedAfterBounds(t *testing.T) {
	e, _ := workCorpus(t)
	s := e.synced()
	s.cfg.SearchMaxWork = 1_000_000 // 15 comparisons of 65,536 cells
	start := time.Now()
	_, err := s.Search(context.Background(), Query{Metric: "w.m010", Window: ptr(1.0), K: 5})
	require.Less(t, time.Since(start), 100*time.Millisecond)
	require.ErrorIs(t, err, ErrTooMuchWork)
	require.ErrorContains(t, err, " seeds compared + ")
	require.ErrorContains(t, err, "series left after the lower bounds) × 65536 cells per comparison (length 256, band 256)")
}

// TestSearchAnswersWholeOrNotAtAll runs one heavy query under deadlines spread over its
// duration: each run either fails with context.DeadlineExceeded or answers exactly the
// result of an unhurried run, never a partial top-k.
func TestSearchAnswersWholeOrNotAtAll(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(27, 28))
	corpus := map[string][]float64{}
	for i := range 400 {
		corpus[fmt.Sprintf("p.m%03d", i)] = randomWalk(rng, 360)
	}
	e.put(corpus)
	s := e.synced()
	q := Query{Values: randomWalk(rng, 20_000), Window: ptr(1.0), K: 200}
	start := time.Now()
	want, err := s.Search(context.Background(), q)
	require.NoError(t, err)
	full := time.Since(start)
	for i := range 24 {
		deadline := full * time.Duration(i) / 20
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		got, err := s.Search(ctx, q)
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			continue
		}
		require.Equal(t, want.Results, got.Results, "deadline %v of %v", deadline, full)
	}
}
