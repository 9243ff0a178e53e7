package statestore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func open(t *testing.T) (*Store, *redisstore.Store) {
	srv := redistest.Start(t)
	rs, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Close() })
	return New(rs), rs
}

func TestStates(t *testing.T) {
	s, rs := open(t)
	ctx := context.Background()
	require.NoError(t, s.SaveStates(ctx, nil, time.Hour))
	require.NoError(t, s.SaveStates(ctx, map[string][]byte{"a": []byte("A"), "b": []byte("B")}, time.Hour))
	got, err := s.LoadStates(ctx, []string{"a", "missing", "b"})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"a": []byte("A"), "b": []byte("B")}, got)
	ttl, err := rs.Client().TTL(ctx, KeyStatePrefix+"a").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)
}

func TestTriggerHistory(t *testing.T) {
	s, rs := open(t)
	ctx := context.Background()
	h, err := s.TriggerHistory(ctx, "metrics.x")
	require.NoError(t, err)
	require.Nil(t, h)
	in := []algorithms.Point{{Timestamp: 1700000000, Value: 1.5}, {Timestamp: 1700000060, Value: 2}}
	require.NoError(t, s.SetTriggerHistory(ctx, "metrics.x", in))
	h, err = s.TriggerHistory(ctx, "metrics.x")
	require.NoError(t, err)
	require.Equal(t, in, h)
	// Skyline's layout: a msgpack list of [int time, value].
	b, err := rs.Client().Get(ctx, "trigger_history.metrics.x").Bytes()
	require.NoError(t, err)
	var raw []any
	require.NoError(t, msgpack.Unmarshal(b, &raw))
	require.Len(t, raw, 2)
	require.EqualValues(t, 1700000000, raw[0].([]any)[0])
	require.NoError(t, rs.Client().Set(ctx, "trigger_history.metrics.y", "\xc1\xc1", 0).Err())
	_, err = s.TriggerHistory(ctx, "metrics.y")
	require.ErrorContains(t, err, "cannot decode trigger_history.metrics.y")
}
