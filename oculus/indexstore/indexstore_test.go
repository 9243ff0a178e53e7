package indexstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redistest"
)

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb)
	ctx := context.Background()

	im, err := s.LastImport(ctx)
	require.NoError(t, err)
	require.Equal(t, Import{}, im, "nothing recorded yet")

	start := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	end := start.Add(1500 * time.Millisecond)
	require.NoError(t, s.RecordImport(ctx, Import{Start: start, End: end, Documents: 42}))
	im, err = s.LastImport(ctx)
	require.NoError(t, err)
	require.Equal(t, Import{Start: start, End: end, Seconds: 1.5}, im)

	// The key layout other tools read.
	for k, want := range map[string]string{
		KeyImportStart: "2026-01-02T03:04:05.6Z", KeyImportEnd: "2026-01-02T03:04:07.1Z",
		KeyImportDuration: "1.500", KeyDocuments: "42",
	} {
		got, err := rdb.Get(ctx, k).Result()
		require.NoError(t, err)
		require.Equal(t, want, got, k)
	}
}
