package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// backends runs a test against a real redis-server, a 3-master Redis Cluster and the
// embedded server.
func backends(t *testing.T, f func(t *testing.T, s *redisstore.Store)) {
	t.Run("redis-server", func(t *testing.T) {
		srv := redistest.Start(t)
		s, err := redisstore.Open(srv.URL(), redisstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		f(t, s)
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t, 3, 0)
		s, err := redisstore.Open(cl.URL, redisstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.True(t, s.Cluster())
		f(t, s)
	})
	t.Run("embedded", func(t *testing.T) {
		s, err := redisstore.Open("embedded", redisstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.True(t, s.Embedded())
		f(t, s)
	})
}

func TestAppendLayout(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		require.NoError(t, s.Ping(ctx))
		a := redisstore.AppendPair(nil, metric.Int(1700000000), metric.Float(1.5))
		b := redisstore.AppendPair(nil, metric.Int(1700000010), metric.Int(5))
		res := s.Append(ctx, map[string][]byte{"metrics.a.b": a, "mini.a.b": a}, nil)
		require.NoError(t, res.Err)
		res = s.Append(ctx, map[string][]byte{"metrics.a.b": b}, []string{"metrics.only.in.set"})
		require.NoError(t, res.Err)

		raw, err := s.Client().Get(ctx, "metrics.a.b").Bytes()
		require.NoError(t, err)
		require.Equal(t, "92ce6553f100cb3ff8000000000000"+"92ce6553f10a05", hexString(raw))

		full, err := s.Members(ctx, "metrics.")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"metrics.a.b", "metrics.only.in.set"}, full)
		mini, err := s.Members(ctx, "mini.")
		require.NoError(t, err)
		require.Equal(t, []string{"mini.a.b"}, mini)

		pairs, st, err := s.Series(ctx, "a.b")
		require.NoError(t, err)
		require.Equal(t, redisstore.DecodeStats{Pairs: 2}, st)
		require.Equal(t, []redisstore.Pair{{Timestamp: 1700000000, Value: 1.5}, {Timestamp: 1700000010, Value: 5}}, pairs)

		_, _, err = s.Series(ctx, "missing")
		require.ErrorIs(t, err, redisstore.ErrNoMetric)

		got, err := s.Raw(ctx, []string{"metrics.a.b", "metrics.missing"})
		require.NoError(t, err)
		require.Equal(t, raw, got[0])
		require.Nil(t, got[1])
		require.NoError(t, s.Client().Set(ctx, "metrics.empty", "", 0).Err())
		shared, err := s.RawShared(ctx, []string{"metrics.a.b", "metrics.missing", "metrics.empty"})
		require.NoError(t, err)
		require.Equal(t, [][]byte{raw, nil, {}}, shared)
	})
}

func TestReplaceIfUnchanged(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		c := s.Client()
		p := func(ts int64) []byte { return redisstore.AppendPair(nil, metric.Int(ts), metric.Int(ts)) }
		old := append(p(2), p(1)...)
		for _, k := range []string{"metrics.keep", "metrics.appended", "metrics.changed", "metrics.gone", "metrics.gone.but.appended"} {
			require.NoError(t, s.Append(ctx, map[string][]byte{k: old}, nil).Err)
		}
		// Concurrent writers: one appends after the read, one rewrites under our feet.
		require.NoError(t, s.Append(ctx, map[string][]byte{"metrics.appended": p(3), "metrics.gone.but.appended": p(4)}, nil).Err)
		require.NoError(t, c.Set(ctx, "metrics.changed", p(9), 0).Err())

		sorted := append(p(1), p(2)...)
		out, err := s.ReplaceIfUnchanged(ctx, []redisstore.Rewrite{
			{Key: "metrics.keep", Old: old, New: sorted},
			{Key: "metrics.appended", Old: old, New: sorted},
			{Key: "metrics.changed", Old: old, New: sorted},
			{Key: "metrics.gone", Old: old},
			{Key: "metrics.gone.but.appended", Old: old},
		})
		require.NoError(t, err)
		require.Equal(t, []redisstore.Outcome{redisstore.Replaced, redisstore.Replaced, redisstore.Changed,
			redisstore.Deleted, redisstore.Replaced}, out)

		get := func(k string) []byte { b, _ := c.Get(ctx, k).Bytes(); return b }
		require.Equal(t, sorted, get("metrics.keep"))
		require.Equal(t, append(append([]byte{}, sorted...), p(3)...), get("metrics.appended"), "appended point kept")
		require.Equal(t, p(9), get("metrics.changed"))
		require.Nil(t, get("metrics.gone"))
		require.Equal(t, p(4), get("metrics.gone.but.appended"), "points appended after the read survive a purge")

		members, err := s.Members(ctx, "metrics.")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"metrics.keep", "metrics.appended", "metrics.changed", "metrics.gone.but.appended"}, members)
	})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// A key that holds another type refuses APPEND for good (WRONGTYPE): it is reported as
// Dropped, not as a failure to retry, and the other keys of the same call are stored.
func TestAppendDropsWrongTypeKeys(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		require.NoError(t, s.Client().SAdd(ctx, "metrics.collide", "x").Err())
		a := redisstore.AppendPair(nil, metric.Int(1700000000), metric.Float(1.5))
		res := s.Append(ctx, map[string][]byte{"metrics.collide": a, "metrics.good": a, "mini.collide": a}, nil)
		require.False(t, res.Retry(), "%+v", res)
		require.Empty(t, res.FailedAppend)
		require.Empty(t, res.FailedSet)
		require.Len(t, res.Dropped, 1)
		require.Equal(t, "metrics.collide", res.Dropped[0].Key)
		require.True(t, redisstore.Permanent(res.Dropped[0].Err))
		require.ErrorContains(t, res.Err, "WRONGTYPE", "callers that only look at Err still see it")

		got, err := s.Raw(ctx, []string{"metrics.good", "mini.collide"})
		require.NoError(t, err)
		require.Equal(t, [][]byte{a, a}, got)
		full, err := s.Members(ctx, "metrics.")
		require.NoError(t, err)
		require.Equal(t, []string{"metrics.good"}, full, "the refused key is not listed as a series")
		n, err := s.Client().SCard(ctx, "metrics.collide").Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the colliding key is left alone")
	})
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"wrongtype", redisErr("WRONGTYPE Operation against a key holding the wrong kind of value"), true},
		{"oom", redisErr("OOM command not allowed when used memory > 'maxmemory'."), false},
		{"loading", redisErr("LOADING Redis is loading the dataset in memory"), false},
		{"readonly", redisErr("READONLY You can't write against a read only replica."), false},
		{"connection", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{"wrapped wrongtype", fmt.Errorf("cannot append: %w", redisErr("WRONGTYPE x")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, redisstore.Permanent(tc.err))
		})
	}
}

// redisErr is a Redis error reply as go-redis returns it (it implements redis.Error).
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (e redisErr) RedisError()   {}

func TestStats(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	n, err := s.MemberCount(ctx, "metrics.")
	require.NoError(t, err)
	require.Zero(t, n)
	res := s.Append(ctx, map[string][]byte{"metrics.a": redisstore.AppendPair(nil, metric.Int(1), metric.Int(2))}, nil)
	require.NoError(t, res.Err)
	n, err = s.MemberCount(ctx, "metrics.")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	info, keys, err := s.ServerInfo(ctx)
	require.NoError(t, err)
	require.Contains(t, info, "redis_version")
	require.EqualValues(t, 2, keys) // the series and the unique set
	require.NoError(t, s.PingRaw(ctx))
}
