package writer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
)

// Graphite 1.1 tagged names are stored in their normal form whatever order the tags came in,
// so the same series sent two ways is one series; invalid tagged names are counted bad_name.
func TestTaggedNamesAreNormalised(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now().Unix()
	in := []metric.Point{
		{Name: "name;b=2;a=1", Timestamp: metric.Int(now), Value: metric.Int(1)},
		{Name: "name;a=1;b=2", Timestamp: metric.Int(now + 1), Value: metric.Int(2)},
		{Name: "name;b=2;a=0;a=1", Timestamp: metric.Int(now + 2), Value: metric.Int(3)}, // the last a wins
		{Name: "name;b=2;name=x;a=1", Timestamp: metric.Int(now + 3), Value: metric.Int(4)},
		{Name: "bad;a=", Timestamp: metric.Int(now), Value: metric.Int(5)},
		{Name: "bad;=1", Timestamp: metric.Int(now), Value: metric.Int(6)},
		{Name: ";a=1", Timestamp: metric.Int(now), Value: metric.Int(7)},
		{Name: "bad;a=~x", Timestamp: metric.Int(now), Value: metric.Int(8)},
		{Name: "plain.name", Timestamp: metric.Int(now), Value: metric.Int(9)},
	}
	require.NoError(t, f.w.Put(context.Background(), f.proto, in, true))
	f.stop()
	require.Equal(t, 4, f.count(t, "metrics.name;a=1;b=2"))
	require.Equal(t, 1, f.count(t, "metrics.plain.name"))
	require.Equal(t, 4.0, counterValue(t, f.stats, "bad_name"))
	members, err := f.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"metrics.name;a=1;b=2", "metrics.plain.name"}, members)
	require.Zero(t, f.w.Buffered())
}
