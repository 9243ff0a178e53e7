package webapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMatch(t *testing.T) {
	names := []string{"a.Latency", "a.b", "a.b.c", "a.bc", "a.latency.p99", "ab", "b.a.latency", "b.x", "c"}
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	for _, tc := range []struct {
		name, prefix, q string
		limit           int
		want            []string
		total           int
	}{
		{"everything", "", "", 100, names, len(names)},
		{"limit", "", "", 2, []string{"a.Latency", "a.b"}, len(names)},
		{"prefix counts its matches only", "a.b", "", 100, []string{"a.b", "a.b.c", "a.bc"}, 3},
		{"prefix with limit", "a.b", "", 1, []string{"a.b"}, 3},
		{"prefix without match", "zz", "", 100, []string{}, 0},
		{"prefix past the end", "d", "", 100, []string{}, 0},
		{"q alone filters, ignoring case", "", "LATENCY", 100, []string{"a.Latency", "a.latency.p99", "b.a.latency"}, 3},
		{"q at the start comes first", "", "b", 100, []string{"b.a.latency", "b.x", "a.b", "a.b.c", "a.bc", "ab"}, 6},
		{"q with a limit still counts all", "", "b", 2, []string{"b.a.latency", "b.x"}, 6},
		{"prefix and q both filter", "a.", "latency", 100, []string{"a.Latency", "a.latency.p99"}, 2},
		{"q right after the prefix first", "a", "B", 100, []string{"ab", "a.b", "a.b.c", "a.bc"}, 4},
		{"prefix and q without match", "b.", "p99", 100, []string{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total := match(names, lower, tc.prefix, tc.q, tc.limit)
			if len(tc.want) == 0 {
				require.Empty(t, got)
			} else {
				require.Equal(t, tc.want, got)
			}
			require.Equal(t, tc.total, total)
		})
	}
}

// fakeNames is a unique set whose reads are counted.
type fakeNames struct {
	names         []string
	lists, counts int
	down          bool
}

func (f *fakeNames) list(context.Context) ([]string, error) {
	f.lists++
	if f.down {
		return nil, errors.New("connection refused")
	}
	return append([]string(nil), f.names...), nil
}

func (f *fakeNames) count(context.Context) (int64, error) {
	f.counts++
	if f.down {
		return 0, errors.New("connection refused")
	}
	return int64(len(f.names)), nil
}

// A new name is listed within the fresh period; an unchanged set costs one count per
// period and a full read per ttl; a Redis outage serves the last list.
func TestNameCacheFreshness(t *testing.T) {
	f := &fakeNames{names: []string{"b", "a"}}
	clock := time.Unix(1_700_000_000, 0)
	n := &nameCache{list: f.list, count: f.count, fresh: namesFresh, ttl: namesTTL, now: func() time.Time { return clock }}
	get := func() []string {
		names, lower, err := n.get(context.Background())
		require.NoError(t, err)
		require.Len(t, lower, len(names))
		return names
	}
	for _, step := range []struct {
		name          string
		advance       time.Duration
		change        func()
		want          []string
		lists, counts int
	}{
		{"first read lists", 0, nil, []string{"a", "b"}, 1, 0},
		{"fresh: no Redis call", time.Second, func() { f.names = append(f.names, "c") }, []string{"a", "b"}, 1, 0},
		{"after fresh, the count shows the new name", namesFresh, nil, []string{"a", "b", "c"}, 2, 1},
		{"unchanged: one count", namesFresh, nil, []string{"a", "b", "c"}, 2, 2},
		{"same count, other names: read again after ttl", namesTTL, func() { f.names = []string{"a", "b", "d"} }, []string{"a", "b", "d"}, 3, 2},
		{"Redis away: the last list", namesTTL, func() { f.down = true }, []string{"a", "b", "d"}, 4, 2},
	} {
		clock = clock.Add(step.advance)
		if step.change != nil {
			step.change()
		}
		require.Equal(t, step.want, get(), step.name)
		require.Equal(t, step.lists, f.lists, step.name)
		require.Equal(t, step.counts, f.counts, step.name)
	}
	_, _, err := (&nameCache{list: f.list, count: f.count, now: time.Now}).get(context.Background())
	require.Error(t, err, "nothing cached and Redis away")
}

// The API: total is the number of matches, q alone filters, and a name sent a moment ago is
// listed once the cache is older than its fresh period.
func TestMetricsAPIMatches(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	clock := time.Now()
	e.server.names.now = func() time.Time { return clock }
	type answer struct {
		Metrics []string
		Total   int
	}
	get := func(q url.Values) answer {
		res, body := e.get("/api/v1/metrics?" + q.Encode())
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		return decode[answer](t, body)
	}
	all := get(url.Values{"limit": {"1"}})
	require.Len(t, all.Metrics, 1)
	require.Greater(t, all.Total, 5)

	got := get(url.Values{"q": {"LATENCY"}})
	require.NotEmpty(t, got.Metrics)
	require.Less(t, got.Total, all.Total, "q alone filters")
	require.Len(t, got.Metrics, got.Total)
	for _, m := range got.Metrics {
		require.Contains(t, strings.ToLower(m), "latency")
	}

	name := fmt.Sprintf("fresh.metric.%d", clock.UnixNano())
	require.NoError(t, e.store.Append(context.Background(), map[string][]byte{e.store.FullKey(name): {}}, nil).Err)
	clock = clock.Add(namesFresh)
	got = get(url.Values{"prefix": {"fresh."}})
	require.Equal(t, answer{Metrics: []string{name}, Total: 1}, got)
}
