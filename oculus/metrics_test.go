package oculus

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// Every known label value of the labelled metrics is exported at 0 before the first event
// (issue #18 item 5), and a search moves only its own series.
func TestSearchCountersStartAtZero(t *testing.T) {
	e := newEnv(t)
	e.put(map[string][]float64{"z.a": {1, 2, 3, 2}, "z.b": {3, 2, 1, 2}})
	reg := prometheus.NewRegistry()
	s, err := New(e.optionsWith(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	searches := func() map[[2]string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		out := map[[2]string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "kale_oculus_searches_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var key [2]string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "method":
						key[0] = l.GetValue()
					case "result":
						key[1] = l.GetValue()
					}
				}
				out[key] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	before := searches()
	for _, tc := range []struct{ method, result string }{
		{MethodDTW, "ok"}, {MethodDTW, "bad_query"}, {MethodDTW, "too_much_work"}, {MethodDTW, "not_found"},
		{MethodDTW, "timeout"}, {MethodDTW, "cancelled"}, {MethodDTW, "closed"}, {MethodDTW, "error"},
		{MethodEuclidean, "ok"}, {MethodEuclidean, "error"}, {MethodFastDTW, "ok"}, {MethodFastDTW, "timeout"},
		{"invalid", "bad_query"},
	} {
		v, ok := before[[2]string{tc.method, tc.result}]
		require.True(t, ok, "%s/%s exported before any search", tc.method, tc.result)
		require.Zero(t, v, "%s/%s", tc.method, tc.result)
	}
	require.Len(t, before, 3*8+1)
	n, err := testutil.GatherAndCount(reg, "kale_oculus_search_seconds")
	require.NoError(t, err)
	require.Equal(t, 3, n, "one search-time histogram per method")

	_, err = s.Sync(context.Background())
	require.NoError(t, err)
	_, err = s.Search(context.Background(), Query{Metric: "z.a", Method: MethodEuclidean, Length: ptr(0)})
	require.NoError(t, err)
	_, err = s.Search(context.Background(), Query{Metric: "z.a", Method: "cosine"})
	require.ErrorIs(t, err, ErrBadQuery)
	after := searches()
	require.Len(t, after, len(before))
	for k, v := range after {
		want := 0.0
		if k == [2]string{MethodEuclidean, "ok"} || k == [2]string{"invalid", "bad_query"} {
			want = 1
		}
		require.Equal(t, want, v, "%v", k)
	}
}
