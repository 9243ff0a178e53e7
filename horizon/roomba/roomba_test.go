package roomba

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func enc(pairs ...[2]any) []byte {
	var b []byte
	num := func(x any) metric.Number {
		switch v := x.(type) {
		case int:
			return metric.Int(int64(v))
		case int64:
			return metric.Int(v)
		case float64:
			return metric.Float(v)
		}
		panic(x)
	}
	for _, p := range pairs {
		b = redisstore.AppendPair(b, num(p[0]), num(p[1]))
	}
	return b
}

func TestVacuum(t *testing.T) {
	e := redisstore.NewEncoder()
	for _, tc := range []struct {
		name    string
		raw     []byte
		cutoff  float64
		want    []byte
		bad     int
		ceiling float64 // 0: 1000
		future  int
	}{
		{name: "sorted stays", raw: enc([2]any{10, 1.0}, [2]any{20, 2}), want: enc([2]any{10, 1.0}, [2]any{20, 2})},
		{name: "sort by timestamp", raw: enc([2]any{30, 3}, [2]any{10, 1}, [2]any{20, 2}), want: enc([2]any{10, 1}, [2]any{20, 2}, [2]any{30, 3})},
		{name: "duplicate timestamp keeps smallest value (Skyline)", raw: enc([2]any{10, 5.0}, [2]any{10, 3.0}, [2]any{10, 4}), want: enc([2]any{10, 3.0})},
		{name: "trim at cutoff (strict)", raw: enc([2]any{10, 1}, [2]any{20, 2}, [2]any{30, 3}), cutoff: 20, want: enc([2]any{30, 3})},
		{name: "all too old", raw: enc([2]any{10, 1}), cutoff: 10, want: []byte{}},
		{name: "int and float types preserved", raw: enc([2]any{20, 2.0}, [2]any{10.5, 1}), want: enc([2]any{10.5, 1}, [2]any{20, 2.0})},
		{name: "corrupt tail dropped, good points kept", raw: append(enc([2]any{20, 2}, [2]any{10, 1}), 0xc1, 0x92), want: enc([2]any{10, 1}, [2]any{20, 2}), bad: 2},
		{name: "beyond the ceiling dropped, at it kept", raw: enc([2]any{1001, 1}, [2]any{10, 1}, [2]any{1000, 2}, [2]any{1e300, 3.0}, [2]any{math.MaxInt64, 4}),
			want: enc([2]any{10, 1}, [2]any{1000, 2}), future: 3},
		{name: "only far-future points: nothing left", raw: enc([2]any{math.MaxInt64, 1}), want: []byte{}, future: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ceiling := tc.ceiling
			if ceiling == 0 {
				ceiling = 1000
			}
			got, bad, future := Vacuum(tc.raw, tc.cutoff, ceiling, e)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.bad, bad)
			require.Equal(t, tc.future, future)
		})
	}
}

func TestPass(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	day := 86400
	cutoff := int(now.Unix()) - day - 600

	data := map[string][]byte{
		"metrics.fresh":   enc([2]any{cutoff + 100, 1}, [2]any{cutoff + 50, 2}),
		"metrics.mixed":   enc([2]any{cutoff - 10, 1}, [2]any{cutoff + 10, 2}),
		"metrics.stale":   enc([2]any{cutoff - 100, 1}, [2]any{cutoff, 2}),
		"metrics.sorted":  enc([2]any{cutoff + 1, 1}, [2]any{cutoff + 2, 2}),
		"metrics.corrupt": append(enc([2]any{cutoff + 1, 1}), 0xff, 0xc1),
		// A point stamped years ahead (stored before horizon refused such points) is dropped,
		// one stamped within --max-future stays.
		"metrics.future": enc([2]any{int(now.Unix()) + 5*365*day, 1}, [2]any{cutoff + 1, 2}, [2]any{int(now.Unix()) + 60, 3}),
	}
	for i := range 500 { // more than one batch
		data[fmt.Sprintf("metrics.bulk.%d", i)] = enc([2]any{cutoff + 5, i}, [2]any{cutoff + 1, i})
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	r := New(Config{Namespaces: []Namespace{{Prefix: "metrics.", Duration: time.Duration(day) * time.Second}},
		Grace: 600 * time.Second, Batch: 64, Now: func() time.Time { return now }},
		store, telemetry.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	require.Equal(t, 506, st.Keys)
	require.Equal(t, 1, st.Purged, st.String())
	require.Equal(t, 1, st.Unchanged, st.String())
	require.Equal(t, 504, st.Trimmed, st.String())
	require.Equal(t, 2, st.CorruptBytes)
	require.Equal(t, 1, st.FuturePoints)

	get := func(k string) []byte { b, _ := store.Client().Get(ctx, k).Bytes(); return b }
	require.Equal(t, enc([2]any{cutoff + 50, 2}, [2]any{cutoff + 100, 1}), get("metrics.fresh"))
	require.Equal(t, enc([2]any{cutoff + 10, 2}), get("metrics.mixed"))
	require.Nil(t, get("metrics.stale"))
	require.Equal(t, enc([2]any{cutoff + 1, 1}), get("metrics.corrupt"), "a corrupt tail never costs the metric")
	require.Equal(t, enc([2]any{cutoff + 1, 2}, [2]any{int(now.Unix()) + 60, 3}), get("metrics.future"))
	members, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Len(t, members, 505)
	require.NotContains(t, members, "metrics.stale")

	// A second pass finds nothing left to do.
	st, err = r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	require.Equal(t, 505, st.Unchanged, st.String())
}

// Points appended while Roomba rewrites are never lost.
func TestPassWithConcurrentAppends(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	now := time.Now()
	base := int(now.Unix()) - 3600
	const metrics, rounds = 50, 200
	for m := range metrics {
		key := fmt.Sprintf("metrics.c.%d", m)
		require.NoError(t, store.Append(ctx, map[string][]byte{key: enc([2]any{base + 1, 0}, [2]any{base, 0})}, nil).Err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range rounds {
			data := map[string][]byte{}
			for m := range metrics {
				data[fmt.Sprintf("metrics.c.%d", m)] = enc([2]any{base + 10 + i, i})
			}
			if err := store.Append(ctx, data, nil).Err; err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r := New(Config{Namespaces: []Namespace{{Prefix: "metrics.", Duration: 24 * time.Hour}}, Grace: 600 * time.Second, Batch: 7},
		store, telemetry.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for range 20 {
		_, err := r.Pass(ctx, r.cfg.Namespaces[0])
		require.NoError(t, err)
	}
	wg.Wait()
	_, err = r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	for m := range metrics {
		pairs, st, err := store.Series(ctx, fmt.Sprintf("c.%d", m))
		require.NoError(t, err)
		require.Zero(t, st.BadBytes)
		require.Len(t, pairs, rounds+2, "metric %d", m)
	}
}

// A member of the unique set whose key is gone (a Roomba that died between its DEL and its
// SREM, a key deleted by hand) is removed from the set; a member whose key a writer
// re-creates between the SREM and the EXISTS stays.
func TestPassRemovesLeftoverMembers(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	now := time.Now()
	fresh := enc([2]any{int(now.Unix()) - 60, 1})
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.kept": fresh}, nil).Err)
	leftovers := []any{"metrics.gone.a", "metrics.gone.b", "metrics.back", "mini.gone"}
	require.NoError(t, store.Client().SAdd(ctx, "metrics.unique_metrics", leftovers[:3]...).Err())
	require.NoError(t, store.Client().SAdd(ctx, "mini.unique_metrics", leftovers[3]).Err())

	reg := telemetry.New(nil)
	r := New(Config{Namespaces: []Namespace{{Prefix: "metrics.", Duration: 24 * time.Hour}, {Prefix: "mini.", Duration: time.Hour}},
		Grace: 600 * time.Second, Batch: 2}, store, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A writer re-creates metrics.back right after Roomba's SREM, its SADD still to come:
	// Roomba's EXISTS sees the key and puts it back at once.
	var hooked []string
	r.afterSRem = func(keys []string) {
		hooked = append(hooked, keys...)
		if slices.Contains(keys, "metrics.back") {
			require.NoError(t, store.Client().Append(ctx, "metrics.back", string(fresh)).Err())
		}
	}
	st, err := r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	require.Equal(t, 4, st.Keys, st.String())
	require.Equal(t, 3, st.Missing, st.String())
	require.Equal(t, 2, st.PurgedMissing, st.String())
	require.Equal(t, 1, st.Unchanged, st.String())
	require.ElementsMatch(t, []string{"metrics.gone.a", "metrics.gone.b", "metrics.back"}, hooked)
	members, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"metrics.kept", "metrics.back"}, members, "the re-created key stays in its set")
	require.Equal(t, 2.0, testutil.ToFloat64(reg.RoombaKeys.WithLabelValues("purged_missing")))

	st, err = r.Pass(ctx, r.cfg.Namespaces[1])
	require.NoError(t, err)
	require.Equal(t, 1, st.PurgedMissing, st.String())
	members, err = store.Members(ctx, "mini.")
	require.NoError(t, err)
	require.Empty(t, members)

	// Nothing left over: the next pass removes nothing and sees nothing missing.
	r.afterSRem = nil
	st, err = r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	require.Zero(t, st.Missing, st.String())
	require.Zero(t, st.PurgedMissing, st.String())
	require.Equal(t, 2, st.Unchanged, st.String())
}

// dropLeftovers directly: a key re-created before the SREM (its writer's SADD already done)
// is put back; a key re-created after the EXISTS is re-added by its own writer's SADD.
func TestDropLeftoversKeepsRecreatedKeys(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	r := New(Config{}, store, telemetry.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, store.Client().SAdd(ctx, "metrics.unique_metrics", "metrics.x", "metrics.y").Err())
	// metrics.x is re-created (APPEND then SADD) between the read and the SREM.
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.x": enc([2]any{1, 1})}, nil).Err)
	n, unset, err := r.dropLeftovers(ctx, []string{"metrics.x", "metrics.y"})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, unset)
	members, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Equal(t, []string{"metrics.x"}, members)
	n, unset, err = r.dropLeftovers(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, unset)
}

// When Redis goes away between the SREM and the EXISTS, dropLeftovers cannot put the members
// back: that is counted (sadd_failed) and logged, not swallowed.
func TestFailedSAddIsCountedAndLogged(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	require.NoError(t, store.Client().SAdd(ctx, "metrics.unique_metrics", "metrics.gone.a", "metrics.gone.b").Err())
	stats := telemetry.New(nil)
	var logs strings.Builder
	r := New(Config{Namespaces: []Namespace{{Prefix: "metrics.", Duration: time.Hour}}}, store, stats,
		slog.New(slog.NewTextHandler(&logs, nil)))
	r.afterSRem = func([]string) { srv.Stop() }
	st, err := r.Pass(ctx, r.cfg.Namespaces[0])
	require.ErrorContains(t, err, "cannot check 2 leftover members")
	require.Equal(t, 2, st.SAddFailed)
	require.Equal(t, 2.0, testutil.ToFloat64(stats.RoombaKeys.WithLabelValues("sadd_failed")))
	require.Contains(t, logs.String(), "cannot put leftover members back into their unique set")
	require.Contains(t, logs.String(), "members=2")
}
