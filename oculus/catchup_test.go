package oculus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redisstore"
)

// countingReader counts the keys the service probes and reads.
type countingReader struct {
	SeriesReader
	probed, read atomic.Int64
}

func (c *countingReader) Tails(ctx context.Context, keys []string, n int) ([]redisstore.Tail, error) {
	c.probed.Add(int64(len(keys)))
	return c.SeriesReader.Tails(ctx, keys, n)
}

func (c *countingReader) Raw(ctx context.Context, keys []string) ([][]byte, error) {
	c.read.Add(int64(len(keys)))
	return c.SeriesReader.Raw(ctx, keys)
}

// Issue #18 item 1: metrics written while kale runs (kale import, kale seed, a new sender)
// are searchable within seconds, not at the next --oculus-interval.
func TestNewMetricsSearchableWithinSeconds(t *testing.T) {
	e := newEnv(t)
	e.cfg.Interval = time.Hour // only the catch-up poll can find the new metrics
	rng := rand.New(rand.NewPCG(31, 32))
	corpus := map[string][]float64{}
	for i := range 20 {
		corpus[fmt.Sprintf("old.m%02d", i)] = randomWalk(rng, 60)
	}
	e.put(corpus)
	s := e.service()
	s.pollEvery = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool { return !s.Status(ctx).CatchingUp }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 20, s.Status(ctx).Metrics)

	searchable := func(name string) func() bool {
		return func() bool { return s.snap.Load().get(name) != nil }
	}
	for _, tc := range []struct {
		name  string
		write func()
		check func(t *testing.T)
	}{
		{"new metrics", func() {
			e.put(map[string][]float64{"new.a": randomWalk(rng, 60), "new.b": randomWalk(rng, 60)})
		}, func(t *testing.T) {
			require.Eventually(t, searchable("new.b"), 3*time.Second, 5*time.Millisecond)
			res, err := s.Search(context.Background(), Query{Prefix: "new.", Values: randomWalk(rng, 60), K: 5})
			require.NoError(t, err)
			require.Len(t, res.Results, 2)
			require.Eventually(t, func() bool { st := s.Status(ctx); return !st.CatchingUp && st.Metrics == 22 }, 3*time.Second, 5*time.Millisecond)
		}},
		{"a metric still being written is read again once it pauses", func() {
			e.put(map[string][]float64{"grow.a": {1, 2, 3}})
		}, func(t *testing.T) {
			require.Eventually(t, searchable("grow.a"), 3*time.Second, 5*time.Millisecond)
			full := randomWalk(rng, 50)
			e.put(map[string][]float64{"grow.a": full}) // appended from the same start: 50 timestamps now
			require.Eventually(t, func() bool {
				g := s.snap.Load().get("grow.a")
				return g != nil && g.n == 50
			}, 3*time.Second, 5*time.Millisecond)
		}},
		{"a metric too short at first", func() {
			e.put(map[string][]float64{"short.a": {1}})
		}, func(t *testing.T) {
			require.Eventually(t, func() bool { return s.Status(ctx).Metrics == 24 && !s.Status(ctx).CatchingUp }, 3*time.Second, 5*time.Millisecond)
			require.Nil(t, s.snap.Load().get("short.a"))
			e.put(map[string][]float64{"short.a": {2, 3}}) // the set does not change: the watch sees it
			require.Eventually(t, searchable("short.a"), 3*time.Second, 5*time.Millisecond)
		}},
		{"a metric removed from the set", func() {
			rdb := e.store.Client()
			require.NoError(t, rdb.SRem(context.Background(), "metrics.unique_metrics", e.store.FullKey("old.m03")).Err())
			require.NoError(t, rdb.Del(context.Background(), e.store.FullKey("old.m03")).Err())
		}, func(t *testing.T) {
			require.Eventually(t, func() bool { return !searchable("old.m03")() }, 3*time.Second, 5*time.Millisecond)
			_, err := s.Search(context.Background(), Query{Metric: "old.m03"})
			require.ErrorIs(t, err, ErrNotFound)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			tc.check(t)
		})
	}
}

// A quick pass reads the new metrics only: the others are neither probed nor read.
func TestCatchUpTouchesOnlyNewMetrics(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(33, 34))
	corpus := map[string][]float64{}
	for i := range 1000 {
		corpus[fmt.Sprintf("big.m%04d", i)] = randomWalk(rng, 20)
	}
	e.put(corpus)
	cr := &countingReader{SeriesReader: e.store}
	o := e.options()
	o.Series = cr
	s, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	_, err = s.Sync(ctx)
	require.NoError(t, err)

	for _, tc := range []struct {
		name                string
		write               map[string][]float64
		probed, read, index int
	}{
		{"one new metric", map[string][]float64{"big.new1": randomWalk(rng, 20)}, 1, 1, 1},
		// The watched new metric is probed again; a second new one is read.
		{"another new metric", map[string][]float64{"big.new2": randomWalk(rng, 20)}, 2, 1, 1},
		{"nothing new", nil, 2, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.put(tc.write)
			cr.probed.Store(0)
			cr.read.Store(0)
			st, err := s.catchUp(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(tc.probed), cr.probed.Load(), "probed")
			require.Equal(t, int64(tc.read), cr.read.Load(), "read")
			require.Equal(t, tc.index, st.Indexed)
		})
	}
	require.Equal(t, 1002, len(s.snap.Load().list))
}

// The decisions of a quick pass for one metric, given what it probed.
func TestFetchNow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sn := newSnapshot(8, []*series{{name: "known", marker: "10:aa", n: 8, z: make([]float32, 8)}}, nil, nil)
	for _, tc := range []struct {
		name      string
		metric    string
		marker    string
		watch     *watched
		short     string
		want      bool
		watchLeft bool // still watched afterwards
	}{
		{"not probed", "known", unprobed, nil, "", false, false},
		{"new", "new", "5:bb", nil, "", true, true},
		{"vanished", "new", "", &watched{marker: "5:bb", since: now}, "", true, false},
		{"short, seen before, unchanged", "tiny", "1:cc", nil, "1:cc", false, false},
		{"short, grown", "tiny", "2:dd", nil, "1:cc", true, true},
		{"watched, indexed and unchanged", "known", "10:aa", &watched{marker: "10:aa", since: now}, "", false, true},
		{"watched, unchanged for a while", "known", "10:aa", &watched{marker: "10:aa", since: now, quiet: now.Add(-watchQuiet / 2)}, "", false, true},
		{"watched, unchanged long enough", "known", "10:aa", &watched{marker: "10:aa", since: now, quiet: now.Add(-watchQuiet)}, "", false, false},
		{"watched, changed and then paused", "known", "12:ee", &watched{marker: "12:ee", since: now, read: now}, "", true, true},
		{"watched, still changing", "known", "14:ff", &watched{marker: "12:ee", since: now, read: now}, "", false, true},
		{"watched, changing for too long", "known", "14:ff", &watched{marker: "12:ee", since: now, read: now.Add(-maxPending)}, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{watch: map[string]*watched{}, short: map[string]string{}}
			if tc.watch != nil {
				s.watch[tc.metric] = tc.watch
			}
			if tc.short != "" {
				s.short[tc.metric] = tc.short
			}
			require.Equal(t, tc.want, s.fetchNow(tc.metric, tc.marker, sn, now))
			_, left := s.watch[tc.metric]
			require.Equal(t, tc.watchLeft, left)
		})
	}
}
