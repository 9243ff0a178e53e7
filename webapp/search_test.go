package webapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
