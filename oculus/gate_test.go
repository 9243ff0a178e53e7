package oculus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/priority"
)

// gateSpy is the env's store, recording whether the gate was held during each value read.
type gateSpy struct {
	SeriesReader
	gate       *priority.Gate
	readsHeld  atomic.Int64
	readsTotal atomic.Int64
}

func (g *gateSpy) Raw(ctx context.Context, keys []string) ([][]byte, error) {
	g.readsTotal.Add(1)
	if g.gate.Busy() {
		g.readsHeld.Add(1)
	}
	return g.SeriesReader.Raw(ctx, keys)
}

// A search holds the gate from start to end (its Redis reads happen while it is held), and
// releases it when it returns, whatever the outcome.
func TestSearchHoldsTheGate(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	corpus := map[string][]float64{}
	for i := range 50 {
		corpus[fmt.Sprintf("g.m%02d", i)] = randomWalk(rng, 64)
	}
	e.put(corpus)
	gate := &priority.Gate{}
	spy := &gateSpy{SeriesReader: e.store, gate: gate}
	o := e.options()
	o.Series, o.Gate = spy, gate
	s, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Sync(context.Background())
	require.NoError(t, err)
	require.Zero(t, spy.readsHeld.Load(), "no search ran during the sync")

	before := spy.readsTotal.Load()
	for _, q := range []Query{{Metric: "g.m07", K: 3}, {Metric: "g.m07", K: 3, Method: MethodEuclidean}, {Metric: "g.m07", Length: ptr(0)}} {
		_, err := s.Search(context.Background(), q)
		require.NoError(t, err)
		require.False(t, gate.Busy(), "released after %+v", q)
	}
	reads := spy.readsTotal.Load() - before
	require.Positive(t, reads)
	require.Equal(t, reads, spy.readsHeld.Load(), "every read of a search happens while it holds the gate")

	_, err = s.Search(context.Background(), Query{Metric: "g.none"})
	require.ErrorIs(t, err, ErrNotFound)
	require.False(t, gate.Busy(), "released after a failed search")
}

// A sync waits on the gate between its batches: while a search holds it, the sync does not
// finish (MaxPause is long here), and it finishes once the search leaves.
func TestSyncWaitsOnTheGate(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(3, 4))
	corpus := map[string][]float64{}
	for i := range 600 {
		corpus[fmt.Sprintf("w.m%03d", i)] = randomWalk(rng, 32)
	}
	e.put(corpus)
	gate := &priority.Gate{MaxPause: time.Minute}
	o := e.options()
	o.Gate = gate
	s, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	leave := gate.Enter() // a long search
	done := make(chan error, 1)
	go func() {
		_, err := s.Sync(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the sync ran while a search held the gate (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	leave()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the sync did not resume after the search left")
	}
	waits, parked := gate.Stats()
	require.Positive(t, waits)
	require.GreaterOrEqual(t, parked, 250*time.Millisecond)
	require.Equal(t, 600, len(s.snap.Load().list))
}
