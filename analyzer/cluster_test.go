package analyzer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// On a Redis Cluster the kale detector's reads (tails, whole series, saved states) and
// checkpoints reach the key's node, whichever slot it hashes to.
func TestKaleOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t, 3, 0)
	store, err := redisstore.Open(c.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	clock := now
	data := map[string][]byte{}
	for i := range 60 {
		data[fmt.Sprintf("metrics.c%02d", i)] = series(300, 60, noisy(uint64(i)))
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	a, _ := kaleAt(t, store, &clock, nil)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, st.Analysed)
	require.Equal(t, 60.0, reads(a, "full"))

	clock = now.Add(time.Minute)
	e := redisstore.NewEncoder()
	next := map[string][]byte{}
	for k := range data {
		next[k] = e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100))
	}
	require.NoError(t, store.Append(ctx, next, nil).Err)
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, st.Analysed)
	require.Equal(t, 60.0, reads(a, "tail"))

	n, err := a.checkpoint(ctx, 0, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 60, n)
	b, _ := kaleAt(t, store, &clock, nil)
	st, err = b.Cycle(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Errors)
	require.Equal(t, 60.0, reads(b, "tail"), "resumed from the checkpointed states")
	for k := range data {
		require.Equal(t, float64(clock.Unix()), b.states.get(k[len("metrics."):]).last)
	}
}
