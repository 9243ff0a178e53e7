package webapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/config"
)

func post(t *testing.T, base, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func get(t *testing.T, base, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestSearchErrorsAndDeadlines(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for _, tc := range []struct {
		name     string
		search   fakeSearcher
		code     int
		contains string
		absent   string
	}{
		{"refused as too much work", func(context.Context, Query) (Result, error) {
			return Result{}, fmt.Errorf("%w: the query needs 9e12 distance cells, over --search-max-work", ErrBadQuery)
		}, http.StatusBadRequest, "--search-max-work", ""},
		{"deadline reported by the searcher", func(ctx context.Context, _ Query) (Result, error) {
			// The searcher applies --search-timeout itself, as oculus does.
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			<-ctx.Done()
			return Result{}, fmt.Errorf("cannot finish phase 2: %w", ctx.Err())
		}, http.StatusServiceUnavailable, "--search-timeout", ""},
		{"searcher ignores its context", func(context.Context, Query) (Result, error) {
			<-hang
			return Result{}, nil
		}, http.StatusServiceUnavailable, "--search-timeout", ""},
		{"index closed", func(context.Context, Query) (Result, error) {
			return Result{}, fmt.Errorf("cannot search: %w", ErrClosed)
		}, http.StatusServiceUnavailable, "shutting down", ""},
		{"unknown failure", func(context.Context, Query) (Result, error) {
			return Result{}, errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
		}, http.StatusInternalServerError, "server log", "WRONGTYPE"},
		{"panic", func(context.Context, Query) (Result, error) {
			panic("secret detail")
		}, http.StatusInternalServerError, "server log", "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newBare(t, tc.search, func(c *config.Config) { c.SearchTimeout = timeout })
			t0 := time.Now()
			res, body := post(t, base, searchPath, `{"values":[1,2,3,4]}`)
			require.Less(t, time.Since(t0), timeout+time.Second, "answered within --search-timeout + 1 s")
			require.Equal(t, tc.code, res.StatusCode, body)
			msg := decode[apiError](t, body).Error
			require.Contains(t, msg, tc.contains)
			if tc.absent != "" {
				require.NotContains(t, body, tc.absent)
			}

			// The search page maps the same way.
			t0 = time.Now()
			res, body = get(t, base, "/search?draw_values=1,2,3,4")
			require.Less(t, time.Since(t0), timeout+time.Second)
			require.Equal(t, tc.code, res.StatusCode)
			require.Contains(t, body, `class="error"`)
			if tc.absent != "" {
				require.NotContains(t, body, tc.absent)
			}
		})
	}
}

func TestSearchWhileDraining(t *testing.T) {
	called := false
	s, base := newBare(t, fakeSearcher(func(context.Context, Query) (Result, error) {
		called = true
		return Result{}, nil
	}), nil)
	s.draining.Store(true)
	res, body := post(t, base, searchPath, `{"values":[1,2,3]}`)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, "shutting down")
	res, _ = get(t, base, "/search?draw_values=1,2,3")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.False(t, called, "no search starts while the server drains")
	res, body = get(t, base, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Contains(t, decode[Readiness](t, body).Reason, "shutting down")
}

func TestSearchWithClosedOculus(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 3})
	require.NoError(t, e.oc.Close())
	for _, draining := range []bool{false, true} {
		e.server.draining.Store(draining)
		res, body := e.do(http.MethodPost, searchPath, `{"metric":"demo.web.latency_ms"}`)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
		require.Contains(t, decode[apiError](t, body).Error, "shutting down")
	}
}

func TestSearchBodyIsStrict(t *testing.T) {
	var got Query
	_, base := newBare(t, fakeSearcher(func(_ context.Context, q Query) (Result, error) {
		got = q
		return Result{}, nil
	}), nil)
	for _, tc := range []struct {
		body     string
		code     int
		contains string
	}{
		{`{"values":[1,2,3]}`, http.StatusOK, ""},
		{`{"values":[1,2,3]}` + "\n  \n", http.StatusOK, ""},
		{`{"values":[1,null,3]}`, http.StatusBadRequest, "values[1] is null"},
		{`{"values":[null]}`, http.StatusBadRequest, "values[0] is null"},
		{`{"values":[1,2,3]}{"values":[4]}`, http.StatusBadRequest, "after the JSON value"},
		{`{"values":[1,2,3]} x`, http.StatusBadRequest, "after the JSON value"},
		{`{"values":[1,2,3]}]`, http.StatusBadRequest, "after the JSON value"},
		{`{"values":[1,2,3],"valuez":[1]}`, http.StatusBadRequest, "unknown field"},
		{`{"values":"1,2,3"}`, http.StatusBadRequest, "cannot decode"},
		{``, http.StatusBadRequest, "empty body"},
	} {
		res, body := post(t, base, searchPath, tc.body)
		require.Equal(t, tc.code, res.StatusCode, "%s: %s", tc.body, body)
		if tc.contains != "" {
			require.Contains(t, decode[apiError](t, body).Error, tc.contains, tc.body)
		}
	}
	require.Equal(t, []float64{1, 2, 3}, got.Values)

	// The search body is bounded (maxSearchBody), answered 413 beyond.
	big := `{"values":[` + strings.Repeat("1.2345678901234567,", maxSearchBody/19+1) + `1]}`
	res, body := post(t, base, searchPath, big)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, fmt.Sprint(maxSearchBody))
	// 100,000 values at full precision fit.
	full := `{"values":[` + strings.Repeat("-1.2345678901234567e-05,", maxDrawValues-1) + `1]}`
	require.Less(t, len(full), maxSearchBody)
	res, body = post(t, base, searchPath, full)
	require.Equal(t, http.StatusOK, res.StatusCode, body[:min(len(body), 200)])
	// Other bodies keep the smaller limit.
	res, body = post(t, base, "/api/v1/feedback", `{"metric":"`+strings.Repeat("a", maxBody)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, fmt.Sprint(maxBody))
}

// The webapp does not validate queries itself: oculus does, with one set of limits, for the
// API and the page alike.
func TestSearchQueriesValidatedByOculus(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"metric":"demo.web.latency_ms","method":"EUCLIDEAN","k":3}`, http.StatusOK},
		{`{"metric":"demo.web.latency_ms","method":"euclidian","k":3}`, http.StatusOK}, // Oculus' spelling
		{`{"metric":"demo.web.latency_ms","method":"fastdtw","radius":1000}`, http.StatusOK},
		{`{"metric":"demo.web.latency_ms","length":0}`, http.StatusOK},
		{`{"metric":"demo.web.latency_ms","method":"fastdtw","radius":1001}`, http.StatusBadRequest},
		{`{"metric":"demo.web.latency_ms","length":1}`, http.StatusBadRequest},
		{`{"values":[1]}`, http.StatusBadRequest},
		{`{"metric":"demo.web.latency_ms","page":1000}`, http.StatusBadRequest},
		{`{"metric":"demo.web.latency_ms","method":"cosine"}`, http.StatusBadRequest},
	} {
		res, body := e.do(http.MethodPost, searchPath, tc.body)
		require.Equal(t, tc.code, res.StatusCode, "%s: %s", tc.body, body)
		if tc.code == http.StatusOK {
			require.NotContains(t, body, `"window"`, "the hits' windows are not part of the API")
		}
	}
	res, body := e.get("/search?query=demo.web.latency_ms&search_type=FastDTW&dtw_radius=1001")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, body, "radius 1001 is not between 0 and 1000")
}

// The search page charts the windows oculus searched, returned with the result, and reads
// nothing from Redis for them.
func TestSearchPageChartsTheSearchedWindows(t *testing.T) {
	var asked Query
	win := []algorithms.Point{{Timestamp: 100, Value: 1}, {Timestamp: 110, Value: 2}, {Timestamp: 120, Value: 4}}
	_, base := newBare(t, fakeSearcher(func(_ context.Context, q Query) (Result, error) {
		asked = q
		return Result{Results: []Hit{{Metric: "not.in.redis", Distance: 1, Window: win}}, Total: 1,
			QueryWindow: win[:2]}, nil
	}), nil)
	res, body := get(t, base, "/search?query=query.metric")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.True(t, asked.Windows, "the page asks for the windows")
	require.Contains(t, body, `"not.in.redis":[[100,1],[110,2],[120,4]]`)
	require.Contains(t, body, `"query.metric":[[100,1],[110,2]]`)

	_, _ = post(t, base, searchPath, `{"metric":"query.metric"}`)
	require.False(t, asked.Windows, "the API does not")
}

// A search by metric name leaves the metric itself out (issue #18 item 8): include_self in
// the JSON body or on the page brings it back, and the page's links keep the choice.
func TestSearchIncludeSelf(t *testing.T) {
	var asked Query
	_, base := newBare(t, fakeSearcher(func(_ context.Context, q Query) (Result, error) {
		asked = q
		return Result{Results: []Hit{{Metric: "a.b", Distance: 1}}, Total: 100}, nil
	}), nil)
	for _, tc := range []struct {
		name string
		page string // GET path, or "" for the API
		body string
		code int
		want bool
	}{
		{"api default", "", `{"metric":"q.m"}`, http.StatusOK, false},
		{"api include_self", "", `{"metric":"q.m","include_self":true}`, http.StatusOK, true},
		{"api include_self false", "", `{"metric":"q.m","include_self":false}`, http.StatusOK, false},
		{"page default", "/search?query=q.m", "", http.StatusOK, false},
		{"page include_self=true", "/search?query=q.m&include_self=true", "", http.StatusOK, true},
		{"page checkbox", "/search?query=q.m&include_self=on", "", http.StatusOK, true},
		{"page include_self=false", "/search?query=q.m&include_self=false", "", http.StatusOK, false},
		{"page bad", "/search?query=q.m&include_self=maybe", "", http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked = Query{}
			var res *http.Response
			var body string
			if tc.page == "" {
				res, body = post(t, base, searchPath, tc.body)
			} else {
				res, body = get(t, base, tc.page)
			}
			require.Equal(t, tc.code, res.StatusCode, body)
			if tc.code != http.StatusOK {
				require.Contains(t, body, `include_self &#34;maybe&#34; is not true or false`)
				return
			}
			require.Equal(t, tc.want, asked.IncludeSelf)
			if tc.page != "" {
				require.Equal(t, tc.want, strings.Contains(body, "include_self=true"), "the pager keeps include_self")
				require.Equal(t, tc.want, strings.Contains(body, `value="true" checked`), "the checkbox shows it")
			}
		})
	}

	// Through the real oculus: the query metric is not among its own results unless asked.
	e := newEnv(t, envOptions{metrics: 6})
	for _, tc := range []struct {
		body string
		self bool
	}{
		{`{"metric":"demo.web.latency_ms","k":3}`, false},
		{`{"metric":"demo.web.latency_ms","k":3,"include_self":true}`, true},
	} {
		res, body := e.do(http.MethodPost, searchPath, tc.body)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		got := decode[Result](t, body)
		require.Len(t, got.Results, 3, body)
		var names []string
		for _, h := range got.Results {
			names = append(names, h.Metric)
		}
		require.Equal(t, tc.self, slices.Contains(names, "demo.web.latency_ms"), body)
	}
}

// statusSearcher is a searcher that also reports an index status.
type statusSearcher struct {
	fakeSearcher
	st IndexStatus
}

func (s statusSearcher) Status(context.Context) IndexStatus { return s.st }

// While the index catches up with Redis, the search page says how far it is (issue #18
// item 1).
func TestSearchPageSaysWhileIndexing(t *testing.T) {
	ok := fakeSearcher(func(context.Context, Query) (Result, error) { return Result{}, nil })
	for _, tc := range []struct {
		name string
		st   IndexStatus
		want string // "" : no note
	}{
		{"current", IndexStatus{Documents: 36_000, Metrics: 36_000}, ""},
		{"current with short series", IndexStatus{Documents: 35_990, Metrics: 36_000}, ""},
		{"catching up", IndexStatus{Documents: 1204, Metrics: 36_000, CatchingUp: true}, "indexing: 1,204 of 36,000 metrics"},
		{"first sync, set not read yet", IndexStatus{CatchingUp: true}, "indexing: the search index is being built"},
		{"more documents than listed (removals pending)", IndexStatus{Documents: 1_000_001, Metrics: 999_999, CatchingUp: true}, "indexing: 999,999 of 999,999 metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newBare(t, statusSearcher{ok, tc.st}, nil)
			for _, path := range []string{"/search", "/search?query=a.b"} {
				res, body := get(t, base, path)
				require.Equal(t, http.StatusOK, res.StatusCode, body)
				if tc.want == "" {
					require.NotContains(t, body, `id="indexing"`)
				} else {
					require.Contains(t, body, tc.want)
				}
			}
		})
	}
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 36000: "36,000", 1234567: "1,234,567", -4500: "-4,500"} {
		require.Equal(t, want, groupDigits(n))
	}
}
