package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestParseClusterURL(t *testing.T) {
	o, err := redisstore.ParseClusterURL("redis+cluster://u:p%40ss@h1:7001,h2:7002,h3?dial_timeout=3s")
	require.NoError(t, err)
	require.Equal(t, []string{"h1:7001", "h2:7002", "h3:6379"}, o.Addrs)
	require.Equal(t, "u", o.Username)
	require.Equal(t, "p@ss", o.Password)
	require.Equal(t, 3*time.Second, o.DialTimeout)
	require.Nil(t, o.TLSConfig)

	o, err = redisstore.ParseClusterURL("rediss+cluster://h1:7001/0?password=secret")
	require.NoError(t, err)
	require.Equal(t, []string{"h1:7001"}, o.Addrs)
	require.Equal(t, "secret", o.Password)
	require.NotNil(t, o.TLSConfig)

	for _, bad := range []string{"redis+cluster://", "redis+cluster://h1:7001/3", "redis://h1:7001", "redis+cluster://h1:7001:7002"} {
		_, err := redisstore.ParseClusterURL(bad)
		require.Error(t, err, bad)
	}
	require.True(t, redisstore.IsClusterURL("redis+cluster://a:1"))
	require.False(t, redisstore.IsClusterURL("redis://a:1"))
}

// The store's slot function agrees with the server's CLUSTER KEYSLOT, hash tags included;
// Raw and Members see keys spread over every master.
func TestClusterSlotsAndMultiKey(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	s, err := redisstore.Open(cl.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	require.NoError(t, s.Ping(ctx))
	node := redis.NewClient(&redis.Options{Addr: cl.Nodes[0].Addr})
	t.Cleanup(func() { _ = node.Close() })
	for _, k := range []string{"metrics.unique_metrics", "metrics.a.b", "kale.collections", "{kale.collections}.version", "x{}y", "a{b}c", "", "mini.z"} {
		want, err := node.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		require.Equal(t, int(want), redisstore.Slot(k), k)
	}
	// A multi-key command across slots is refused (CROSSSLOT): callers use per-key commands
	// in a pipeline, or hash tags (README.md).
	rdb := s.Client()
	require.ErrorContains(t, rdb.MSet(ctx, "kale.a", "1", "kale.b", "2", "kale.c", "3").Err(), "CROSSSLOT")
	require.NoError(t, rdb.MSet(ctx, "{kale.x}.a", "1", "{kale.x}.b", "2").Err())
	vals, err := rdb.MGet(ctx, "{kale.x}.a", "{kale.x}.missing", "{kale.x}.b").Result()
	require.NoError(t, err)
	require.Equal(t, []any{"1", nil, "2"}, vals)

	// Many keys over every master: Raw and Members see them all.
	data := map[string][]byte{}
	var keys []string
	for i := range 2000 {
		k := fmt.Sprintf("metrics.host%d.cpu", i)
		data[k] = redisstore.AppendPair(nil, metric.Int(int64(1700000000+i)), metric.Int(int64(i)))
		keys = append(keys, k)
	}
	require.NoError(t, s.Append(ctx, data, nil).Err)
	members, err := s.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, keys, members)
	raws, err := s.Raw(ctx, append(keys, "metrics.missing"))
	require.NoError(t, err)
	for i, k := range keys {
		require.Equal(t, data[k], raws[i], k)
	}
	require.Nil(t, raws[len(keys)])
}

// A writer re-creating a purged key between Roomba's DEL and its SREM (the window the
// cluster variant opens) keeps the key in its set: the EXISTS check after SREM re-adds it.
func TestClusterPurgeRaceKeepsSetMembership(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	s, err := redisstore.Open(cl.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	writer, err := redisstore.Open(cl.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = writer.Close() })
	ctx := context.Background()
	old := redisstore.AppendPair(nil, metric.Int(1), metric.Int(1))
	fresh := redisstore.AppendPair(nil, metric.Int(2), metric.Int(2))
	require.NoError(t, s.Append(ctx, map[string][]byte{"metrics.racy": old, "metrics.calm": old}, nil).Err)

	// Just before the store's SREM runs, a concurrent horizon writes metrics.racy again
	// (APPEND, then its SADD) — the worst interleaving.
	s.Client().AddHook(sremHook{before: func() {
		require.NoError(t, writer.Append(ctx, map[string][]byte{"metrics.racy": fresh}, nil).Err)
	}})
	out, err := s.ReplaceIfUnchanged(ctx, []redisstore.Rewrite{{Key: "metrics.racy", Old: old}, {Key: "metrics.calm", Old: old}})
	require.NoError(t, err)
	require.Equal(t, []redisstore.Outcome{redisstore.Deleted, redisstore.Deleted}, out)
	members, err := s.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Equal(t, []string{"metrics.racy"}, members, "the re-created key is back in its set, the purged one gone")
	got, err := s.Raw(ctx, []string{"metrics.racy"})
	require.NoError(t, err)
	require.Equal(t, fresh, got[0])
}

type sremHook struct{ before func() }

func (h sremHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h sremHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "srem" {
			h.before()
		}
		return next(ctx, cmd)
	}
}
func (h sremHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
