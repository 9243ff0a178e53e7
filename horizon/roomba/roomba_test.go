package roomba

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func enc(pairs ...[2]any) []byte {
	var b []byte
	num := func(x any) redisstore.Number {
		switch v := x.(type) {
		case int:
			return redisstore.Int(int64(v))
		case float64:
			return redisstore.Float(v)
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
		name   string
		raw    []byte
		cutoff float64
		want   []byte
		bad    int
	}{
		{"sorted stays", enc([2]any{10, 1.0}, [2]any{20, 2}), 0, enc([2]any{10, 1.0}, [2]any{20, 2}), 0},
		{"sort by timestamp", enc([2]any{30, 3}, [2]any{10, 1}, [2]any{20, 2}), 0, enc([2]any{10, 1}, [2]any{20, 2}, [2]any{30, 3}), 0},
		{"duplicate timestamp keeps smallest value (Skyline)", enc([2]any{10, 5.0}, [2]any{10, 3.0}, [2]any{10, 4}), 0, enc([2]any{10, 3.0}), 0},
		{"trim at cutoff (strict)", enc([2]any{10, 1}, [2]any{20, 2}, [2]any{30, 3}), 20, enc([2]any{30, 3}), 0},
		{"all too old", enc([2]any{10, 1}), 10, []byte{}, 0},
		{"int and float types preserved", enc([2]any{20, 2.0}, [2]any{10.5, 1}), 0, enc([2]any{10.5, 1}, [2]any{20, 2.0}), 0},
		{"corrupt tail dropped, good points kept", append(enc([2]any{20, 2}, [2]any{10, 1}), 0xc1, 0x92), 0, enc([2]any{10, 1}, [2]any{20, 2}), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := Vacuum(tc.raw, tc.cutoff, e)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.bad, bad)
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
	require.Equal(t, 505, st.Keys)
	require.Equal(t, 1, st.Purged, st.String())
	require.Equal(t, 1, st.Unchanged, st.String())
	require.Equal(t, 503, st.Trimmed, st.String())
	require.Equal(t, 2, st.CorruptBytes)

	get := func(k string) []byte { b, _ := store.Client().Get(ctx, k).Bytes(); return b }
	require.Equal(t, enc([2]any{cutoff + 50, 2}, [2]any{cutoff + 100, 1}), get("metrics.fresh"))
	require.Equal(t, enc([2]any{cutoff + 10, 2}), get("metrics.mixed"))
	require.Nil(t, get("metrics.stale"))
	require.Equal(t, enc([2]any{cutoff + 1, 1}), get("metrics.corrupt"), "a corrupt tail never costs the metric")
	members, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Len(t, members, 504)
	require.NotContains(t, members, "metrics.stale")

	// A second pass finds nothing left to do.
	st, err = r.Pass(ctx, r.cfg.Namespaces[0])
	require.NoError(t, err)
	require.Equal(t, 504, st.Unchanged, st.String())
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
