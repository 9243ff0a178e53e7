package analyzer

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHash64IsFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "metrics.bench.host0001.m02", "héllo"} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		require.Equal(t, h.Sum64(), hash64(s), "%q", s)
	}
}

func TestShareSplitsAndMovesLittle(t *testing.T) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("metrics.m.%05d", i)
	}
	owners := func(members []string) map[string]string {
		out := map[string]string{}
		for _, m := range members {
			for _, k := range share(keys, members, m) {
				_, dup := out[k]
				require.False(t, dup, "%s assigned twice", k)
				out[k] = m
			}
		}
		require.Len(t, out, len(keys), "every key has an owner")
		return out
	}
	three := owners([]string{"a", "b", "c"})
	counts := map[string]int{}
	for _, m := range three {
		counts[m]++
	}
	for m, n := range counts {
		require.InDelta(t, len(keys)/3, n, 300, "share of %s", m)
	}
	// Rendezvous hashing: when c leaves, only c's keys move.
	two := owners([]string{"a", "b"})
	for k, m := range three {
		if m != "c" {
			require.Equal(t, m, two[k], "%s moved although its owner stayed", k)
		}
	}
	require.Nil(t, share(keys, []string{"a", "b"}, "z"), "a non-member owns nothing")
	require.Len(t, share(keys, []string{"a"}, "a"), len(keys))
}

// TestTwoAnalyzersShareOneCycle: two analyzers against one Redis analyse each of 20,000
// metrics exactly once per cycle; when one stops (lease given up, or expired after a crash)
// the other covers every metric in its next cycle.
func TestTwoAnalyzersShareOneCycle(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	const total = 20_000
	data := make(map[string][]byte, 1000)
	for i := range total {
		data[fmt.Sprintf("metrics.host%03d.m%03d", i/100, i%100)] = series(30, 60, noisy(uint64(i)))
		if len(data) == 1000 {
			require.NoError(t, store.Append(ctx, data, nil).Err)
			clear(data)
		}
	}
	newMember := func(id string, lease time.Duration) (*Analyzer, *[]string) {
		a, _ := newAnalyzer(t, store, func(c *Config) { c.ID, c.Lease, c.Workers = id, lease, 2 })
		got := new([]string)
		a.onShare = func(keys []string) { *got = slices.Clone(keys) }
		return a, got
	}
	a, gotA := newMember("analyzer-a", time.Minute)
	b, gotB := newMember("analyzer-b", 2*time.Second)
	require.NoError(t, a.Join(ctx))
	require.NoError(t, b.Join(ctx))
	members, err := a.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"analyzer-a", "analyzer-b"}, members)

	var stA, stB CycleStats
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { stA, errA = a.Cycle(ctx) })
	wg.Go(func() { stB, errB = b.Cycle(ctx) })
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	for _, st := range []CycleStats{stA, stB} {
		require.Equal(t, total, st.Metrics)
		require.Equal(t, 2, st.Instances)
		require.Equal(t, st.Assigned, st.Analysed+sum(st.Exceptions), "each assigned metric analysed or skipped once")
		require.InDelta(t, total/2, st.Assigned, total/10, "%s got a fair share", st.Instance)
	}
	require.Equal(t, total, stA.Assigned+stB.Assigned)
	union := map[string]bool{}
	for _, k := range append(slices.Clone(*gotA), *gotB...) {
		require.False(t, union[k], "%s analysed by both analyzers", k)
		union[k] = true
	}
	require.Len(t, union, total, "every metric analysed by one analyzer")

	// The merged document counts both shares, whichever analyzer finished last.
	cur, err := LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.Equal(t, total, cur.Cycle.Metrics)
	require.Equal(t, total, cur.Cycle.Assigned)
	require.Equal(t, total, cur.Cycle.Analysed+sum(cur.Cycle.Exceptions))
	require.Equal(t, 2, cur.Cycle.Instances)

	// b crashes: no Leave, its lease expires; a's next cycle covers everything.
	time.Sleep(2100 * time.Millisecond)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Instances)
	require.Equal(t, total, st.Assigned)
	require.Equal(t, total, st.Analysed+sum(st.Exceptions))
	cur, err = LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.Equal(t, total, cur.Cycle.Analysed+sum(cur.Cycle.Exceptions), "the dead member's part is left out")

	// b comes back, then stops cleanly: a takes its share back at the very next cycle.
	require.NoError(t, b.Join(ctx))
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Less(t, st.Assigned, total)
	require.NoError(t, b.Leave(ctx))
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, total, st.Assigned)
	n, err := store.Client().Exists(ctx, KeyMemberPrefix+"analyzer-b", KeyCurrentPrefix+"analyzer-b").Result()
	require.NoError(t, err)
	require.Zero(t, n, "Leave removes the lease and the part")
}

// TestRunLeavesOnStop: Run heartbeats the lease and gives it up when stopped.
func TestRunLeavesOnStop(t *testing.T) {
	store := openStore(t)
	a, _ := newAnalyzer(t, store, func(c *Config) { c.ID, c.Lease = "runner", 300*time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(time.Second) // several leases: only the heartbeat keeps the member alive
	members, err := a.Members(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"runner"}, members)
	cancel()
	require.NoError(t, <-done)
	members, err = a.Members(context.Background())
	require.NoError(t, err)
	require.Empty(t, members)
}
