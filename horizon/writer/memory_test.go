package writer

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kale-project/kale/utils/metric"
	"github.com/stretchr/testify/require"
)

func heapBytes() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A flood of new names costs the writer a bounded, small amount per name: while they are
// pending (the name, its buffer and map slot) and after they were flushed (the known-name
// set, and no pending map left at its peak size).
func TestMemoryPerNewName(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.QueueSize, c.MaxNewPerMinute = 100_000, 100_000 })
	f.stop() // drive drain and flush by hand, as Run would
	const n = 20_000
	now := time.Now().Unix()
	base := heapBytes()
	batches := make([][]metric.Point, n/500)
	for i := range batches {
		batches[i] = make([]metric.Point, 500)
		for j := range batches[i] {
			batches[i][j] = metric.Point{Name: fmt.Sprintf("flood.host%04d.metric%05d", i, j),
				Timestamp: metric.Int(now), Value: metric.Float(1)}
		}
	}
	for _, b := range batches {
		require.NoError(t, f.w.Put(context.Background(), f.proto, b, false))
	}
	batches = nil
	f.w.drain()
	pending := heapBytes()
	require.True(t, f.w.flush(context.Background()))
	require.Equal(t, n, f.count(t, "metrics.flood.host0000.metric00000")+n-1)
	// The next flush of ordinary traffic gives the flood's map back.
	require.NoError(t, f.w.Put(context.Background(), f.proto, pts("steady", now, 1), false))
	f.w.drain()
	require.True(t, f.w.flush(context.Background()))
	after := heapBytes()
	perPending := float64(int64(pending)-int64(base)) / n
	perKept := float64(int64(after)-int64(base)) / n
	t.Logf("bytes per new name: %.0f while pending (name included), %.1f kept after the flush", perPending, perKept)
	require.Less(t, perPending, 400.0)
	require.Less(t, perKept, 40.0)
	runtime.KeepAlive(f.w)
}
