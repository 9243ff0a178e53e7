package collectionstore

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
	s := New(rdb, nil)
	ctx := context.Background()

	v0, err := s.Version(ctx)
	require.NoError(t, err)
	require.Empty(t, v0, "no change yet")
	cols, err := s.List(ctx)
	require.NoError(t, err)
	require.Empty(t, cols)

	c := Collection{Name: "b", Description: "<b>disk</b>", Created: time.Unix(1_700_000_000, 0).UTC(),
		Members: []Member{{Metric: "m.one", Points: [][2]float64{{1, 2}, {3, 4}}}, {Metric: "m.two"}}}
	require.NoError(t, s.Create(ctx, c))
	require.ErrorIs(t, s.Create(ctx, c), ErrExists)
	require.NoError(t, s.Create(ctx, Collection{Name: "a", Members: []Member{{Metric: "m.two"}}}))
	v1, err := s.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, "2", v1, "bumped by each change")

	got, err := s.Get(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, c, got)
	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)

	// An unreadable entry is skipped by the readers of many.
	require.NoError(t, rdb.HSet(ctx, Key, "broken", "{").Err())
	cols, err = s.List(ctx)
	require.NoError(t, err)
	require.Len(t, cols, 2)
	require.Equal(t, []string{"a", "b"}, []string{cols[0].Name, cols[1].Name}, "sorted by name")
	idx, err := s.MemberIndex(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, idx["m.one"])
	require.ElementsMatch(t, []string{"a", "b"}, idx["m.two"])
	require.NoError(t, rdb.HDel(ctx, Key, "broken").Err())

	// Update: rename and edit in one transaction; clashes and unknown names are refused.
	_, err = s.Update(ctx, "b", func(c *Collection) { c.Name = "a" })
	require.ErrorIs(t, err, ErrExists)
	_, err = s.Update(ctx, "nope", func(*Collection) {})
	require.ErrorIs(t, err, ErrNotFound)
	up, err := s.Update(ctx, "b", func(c *Collection) { c.Name, c.Description = "c", "new" })
	require.NoError(t, err)
	require.Equal(t, "c", up.Name)
	require.Equal(t, c.Members, up.Members)
	_, err = s.Get(ctx, "b")
	require.ErrorIs(t, err, ErrNotFound, "renamed away")
	got, err = s.Get(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, "new", got.Description)

	require.NoError(t, s.Delete(ctx, "c"))
	require.ErrorIs(t, s.Delete(ctx, "c"), ErrNotFound)
	v2, err := s.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, "4", v2)
}
