package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/utils/redisstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// chromedp's and net/http's idle connection goroutines wind down after the tests.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		// go-redis's pool reaper of clients the tests closed through Cleanup.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
		// bleve's package-level analysis queue, started when the package loads.
		goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), "body: %s", body)
	return v
}

func TestSkylineCompatibility(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})

	res, body := e.get("/static/dump/anomalies.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "handle_data([])", body, "before the first cycle")
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")

	res, body = e.get("/api?metric=metrics.demo.web.requests")
	require.Equal(t, http.StatusOK, res.StatusCode)
	got := decode[struct{ Results [][2]float64 }](t, body)
	require.NotEmpty(t, got.Results)
	require.NotContains(t, body, "e+09", "timestamps print as integers")

	for _, q := range []string{"metrics.nope", "demo.web.requests", "kale.anomalies.current", "metrics.unique_metrics", ""} {
		res, body = e.get("/api?metric=" + url.QueryEscape(q))
		require.Equal(t, http.StatusNotFound, res.StatusCode, q)
		require.JSONEq(t, `{"results":"Error: No metric by that name"}`, body)
	}

	res, body = e.get("/app_settings")
	require.Equal(t, http.StatusOK, res.StatusCode)
	settings := decode[map[string]string](t, body)
	require.Equal(t, "metrics.", settings["FULL_NAMESPACE"])
	require.Contains(t, settings, "GRAPH_URL")
	require.Equal(t, "", settings["OCULUS_HOST"], "no search in this process")

	e.analyze()
	_, body = e.get("/static/dump/anomalies.json")
	require.True(t, strings.HasPrefix(body, "handle_data([["), body)
	require.Contains(t, body, `"demo.web.latency_ms"`)
	require.NotContains(t, body, "<script>", "names are JSON strings, with < escaped")
}

func TestAnomaliesAPI(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	res, body := e.get("/api/v1/anomalies")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.JSONEq(t, `{"anomalies":[],"cycle":null}`, body)

	st := e.analyze()
	res, body = e.get("/api/v1/anomalies")
	require.Equal(t, http.StatusOK, res.StatusCode)
	doc := decode[analyzer.Current](t, body)
	require.Len(t, doc.Anomalies, st.Anomalies)
	require.Equal(t, st.Metrics, doc.Cycle.Metrics)
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	res, _ = e.do(http.MethodGet, "/api/v1/anomalies", "", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, res.StatusCode)

	// Annotation-ready history.
	res, body = e.get("/api/v1/anomalies/history?metric=demo.web.latency_ms&from=now-1h&until=now")
	require.Equal(t, http.StatusOK, res.StatusCode)
	items := decode[[]Annotation](t, body)
	require.Len(t, items, 1)
	require.Equal(t, "demo.web.latency_ms", items[0].Metric)
	require.Equal(t, items[0].Timestamp*1000, items[0].Time)
	require.Contains(t, items[0].Tags, "anomaly")
	_, body = e.get("/api/v1/anomalies/history")
	require.Len(t, decode[[]Annotation](t, body), st.Anomalies)
	_, body = e.get("/api/v1/anomalies/history?from=now-1h&until=now-30m")
	require.Empty(t, decode[[]Annotation](t, body))

	for _, bad := range []string{"from=yesterday", "until=abc", "from=now&until=now-1h", "limit=0", "limit=x"} {
		res, body = e.get("/api/v1/anomalies/history?" + bad)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, bad)
		require.NotEmpty(t, decode[apiError](t, body).Error)
	}
}

func TestMetricsAndSeriesAPI(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	res, body := e.get("/api/v1/metrics?prefix=demo.web.")
	require.Equal(t, http.StatusOK, res.StatusCode)
	got := decode[struct {
		Metrics []string
		Total   int
	}](t, body)
	require.Equal(t, []string{"demo.web.bytes_out_total", "demo.web.errors", "demo.web.latency_ms", "demo.web.requests", "demo.web.requests_total"}, got.Metrics)
	require.Equal(t, 5, got.Total, "the matches, not every metric")

	res, body = e.get("/api/v1/series?metric=demo.web.requests&from=now-1h")
	require.Equal(t, http.StatusOK, res.StatusCode)
	s := decode[struct {
		Metric string
		Points [][2]float64
	}](t, body)
	require.Equal(t, "demo.web.requests", s.Metric)
	require.NotEmpty(t, s.Points)
	for i, p := range s.Points {
		require.GreaterOrEqual(t, p[0], float64(e.now.Add(-time.Hour).Unix()-1))
		if i > 0 {
			require.Greater(t, p[0], s.Points[i-1][0], "time-ordered")
		}
	}
	_, body = e.get("/api/v1/series?metric=demo.web.requests&maxpoints=50")
	require.Len(t, decode[struct{ Points [][2]float64 }](t, body).Points, 50)
	ms := e.now.Add(-30 * time.Minute).UnixMilli()
	_, body = e.get("/api/v1/series?metric=demo.web.requests&from=" + strconvI(ms))
	for _, p := range decode[struct{ Points [][2]float64 }](t, body).Points {
		require.GreaterOrEqual(t, p[0]*1000, float64(ms-1000), "Grafana's millisecond times")
	}

	for path, code := range map[string]int{
		"/api/v1/series":                                     http.StatusBadRequest,
		"/api/v1/series?metric=nope":                         http.StatusNotFound,
		"/api/v1/series?metric=demo.web.errors&from=x":       http.StatusBadRequest,
		"/api/v1/series?metric=" + strings.Repeat("a", 2000): http.StatusBadRequest,
		"/api/v1/metrics?limit=-1":                           http.StatusBadRequest,
		"/api/v1/sparklines":                                 http.StatusBadRequest,
		"/api/v1/feedback":                                   http.StatusBadRequest,
		"/api/v1/nothing":                                    http.StatusNotFound,
	} {
		res, body := e.get(path)
		require.Equal(t, code, res.StatusCode, path)
		require.NotEmpty(t, decode[apiError](t, body).Error, path)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json", path)
	}

	_, body = e.get("/api/v1/sparklines?metric=demo.web.latency_ms&metric=nope")
	sp := decode[struct{ Sparklines map[string]Sparkline }](t, body).Sparklines
	require.Len(t, sp["demo.web.latency_ms"].Values, sparkBuckets)
	require.NotNil(t, sp["demo.web.latency_ms"].Band)
	require.Less(t, float64(sp["demo.web.latency_ms"].Band.Upper), float64(sp["demo.web.latency_ms"].Last), "the spike is above the expected band")
	require.NotEmpty(t, sp["nope"].Error)
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

func pair(ts, v float64) redisstore.Pair { return redisstore.Pair{Timestamp: ts, Value: v} }

func nan() float64 { return math.NaN() }

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestSearchAPI(t *testing.T) {
	e := newEnv(t, envOptions{burst: 7})
	// By default the query metric is left out ("other metrics like this one"), still k hits.
	res, body := e.do(http.MethodPost, "/api/v1/search", `{"metric":"demo.web.latency_ms","k":5}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r := decode[Result](t, body)
	require.Len(t, r.Results, 5)
	for _, h := range r.Results {
		require.NotEqual(t, "demo.web.latency_ms", h.Metric)
	}
	// include_self brings it back, as its own best match.
	res, body = e.do(http.MethodPost, "/api/v1/search", `{"metric":"demo.web.latency_ms","k":5,"include_self":true}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r = decode[Result](t, body)
	require.Len(t, r.Results, 5)
	require.Equal(t, "demo.web.latency_ms", r.Results[0].Metric)

	for _, bad := range []string{`{}`, `{"metric":"x","method":"cosine"}`, `{"metric":"x","bogus":1}`, `not json`, `{"values":[1,2],"k":100000}`} {
		res, body = e.do(http.MethodPost, "/api/v1/search", bad)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, bad)
		require.NotEmpty(t, decode[apiError](t, body).Error)
	}
	// The burst of 7 is spent (bad requests count too): the next search is refused.
	res, body = e.do(http.MethodPost, "/api/v1/search", `{"values":[1,2,3,4,5,6,7,8]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, "--search-rate")
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	res, _ = e.get("/search?query=demo.web.latency_ms")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the search page shares the limit")
}

func TestSearchUnavailable(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	res, body := e.do(http.MethodPost, "/api/v1/search", `{"metric":"demo.web.latency_ms"}`)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, "oculus")
	res, body = e.get("/search?query=demo.web.latency_ms")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Contains(t, body, "not running in this process")
	res, _ = e.get("/api/v1/collections")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	res, _ = e.get("/search")
	require.Equal(t, http.StatusOK, res.StatusCode, "the form itself still works")
}

func TestSearchPageOculusParameters(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, q := range []string{
		"query=demo.web.latency_ms&search_type=FastDTW&dtw_radius=5&p_slop=20&page=&filters=",
		"query=demo.web.latency_ms&search_type=Euclidian&page=1&filters=cpu.disk",
		"query=demo.web.latency_ms&search_type=euclidean&page=2",
		"query=demo.web.latency_ms&search_type=DTW&window=0.2&prefix=demo.",
		"draw_values=1,2,3,10,50,10,3,2,1&search_type=DTW",
	} {
		res, body := e.get("/search?" + q)
		require.Equal(t, http.StatusOK, res.StatusCode, q)
		require.Contains(t, body, `class="hit"`, q)
	}
	_, body := e.get("/search?query=demo.web.latency_ms&filters=cpu.disk")
	require.NotContains(t, body, "demo.cpu.host01.user", "filtered out by segment")
	require.Contains(t, body, "Filtering out")
	for q, code := range map[string]int{
		"query=x&search_type=cosine":         http.StatusBadRequest,
		"query=x&page=-1":                    http.StatusBadRequest,
		"draw_values=1,abc":                  http.StatusBadRequest,
		"query=demo.web.latency_ms&window=x": http.StatusBadRequest,
		"query=no.such.metric":               http.StatusNotFound,
	} {
		res, body := e.get("/search?" + q)
		require.Equal(t, code, res.StatusCode, q)
		require.Contains(t, body, `class="error"`, q)
	}
}

func TestWritesNeedCredentials(t *testing.T) {
	t.Run("no credentials configured", func(t *testing.T) {
		e := newEnv(t, envOptions{metrics: 5, noSearch: true})
		res, body := e.do(http.MethodPost, "/api/v1/feedback", `{"metric":"demo.web.latency_ms"}`,
			"Authorization", "Bearer anything")
		require.Equal(t, http.StatusForbidden, res.StatusCode)
		require.Contains(t, decode[apiError](t, body).Error, "--webapp-token")
	})

	e := newEnv(t, envOptions{analyze: true, token: "tok3n", user: "ops", password: "pw"})
	csrf := csrfToken(t, e)
	fb := `{"metric":"demo.web.latency_ms"}`
	for _, c := range []struct {
		name    string
		headers []string
		code    int
	}{
		{"nothing", nil, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"wrong password", []string{"Authorization", basicAuthHeader("ops", "nope")}, http.StatusUnauthorized},
		{"basic auth without CSRF token", []string{"Authorization", basicAuthHeader("ops", "pw")}, http.StatusForbidden},
		{"basic auth, CSRF header without cookie", []string{"Authorization", basicAuthHeader("ops", "pw"), "X-CSRF-Token", csrf}, http.StatusForbidden},
		{"basic auth, cross-site", []string{"Authorization", basicAuthHeader("ops", "pw"), "Cookie", csrfCookieName + "=" + csrf, "X-CSRF-Token", csrf, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"basic auth with CSRF", []string{"Authorization", basicAuthHeader("ops", "pw"), "Cookie", csrfCookieName + "=" + csrf, "X-CSRF-Token", csrf}, http.StatusCreated},
		{"bearer token (API client, no CSRF)", []string{"Authorization", "Bearer tok3n"}, http.StatusCreated},
	} {
		res, body := e.do(http.MethodPost, "/api/v1/feedback", fb, c.headers...)
		require.Equal(t, c.code, res.StatusCode, "%s: %s", c.name, body)
		if c.code == http.StatusUnauthorized {
			require.Equal(t, `Basic realm="kale", charset="UTF-8"`, res.Header.Get("WWW-Authenticate"))
		}
	}
	res, _ := e.do(http.MethodPost, "/api/v1/feedback", fb, "X-Requested-With", "kale-ui")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Empty(t, res.Header.Get("WWW-Authenticate"), "no native browser prompt for the UI's own requests")
	res, _ = e.get("/api/v1/collections/x/delete")
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "writes are POST only")

	// The feedback landed under kale.feedback.<name>, filled from the anomaly record.
	raw, err := e.store.Client().ZRange(context.Background(), KeyFeedbackPrefix+"demo.web.latency_ms", 0, -1).Result()
	require.NoError(t, err)
	require.Len(t, raw, 1, "the same anomaly marked twice is stored once")
	f := decode[Feedback](t, raw[0])
	require.NotZero(t, f.Timestamp)
	require.NotZero(t, f.Created)
	require.NotEmpty(t, f.Triggered)
	_, body := e.get("/api/v1/feedback?metric=demo.web.latency_ms")
	require.Len(t, decode[struct{ Feedback []Feedback }](t, body).Feedback, 1)

	// A form post (no JavaScript) with the _csrf field redirects back to the metric page.
	form := url.Values{"metric": {"demo.db.latency_ms"}, "_csrf": {csrf}}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/v1/feedback", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basicAuthHeader("ops", "pw"))
	req.AddCookie(&http.Cookie{Name: csrfCookieName, Value: csrf})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fres, err := client.Do(req)
	require.NoError(t, err)
	fres.Body.Close()
	require.Equal(t, http.StatusSeeOther, fres.StatusCode)
	require.Equal(t, "/metric/demo.db.latency_ms?feedback=saved", fres.Header.Get("Location"))

	// Unknown metric, and a metric without a recorded anomaly and no timestamp.
	res, _ = e.do(http.MethodPost, "/api/v1/feedback", `{"metric":"nope"}`, "Authorization", "Bearer tok3n")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = e.do(http.MethodPost, "/api/v1/feedback", `{"metric":"demo.web.errors"}`, "Authorization", "Bearer tok3n")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, _ = e.do(http.MethodPost, "/api/v1/feedback", `{"metric":"demo.web.errors","timestamp":1700000000,"value":3}`, "Authorization", "Bearer tok3n")
	require.Equal(t, http.StatusCreated, res.StatusCode)
}

// csrfToken gets a CSRF cookie value from a page view.
func csrfToken(t *testing.T, e *env) string {
	t.Helper()
	res, body := e.get("/help")
	for _, c := range res.Cookies() {
		if c.Name == csrfCookieName {
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
			require.Contains(t, body, `<meta name="csrf-token" content="`+c.Value+`">`)
			return c.Value
		}
	}
	t.Fatal("no CSRF cookie")
	return ""
}

func TestCollectionsAPI(t *testing.T) {
	e := newEnv(t, envOptions{token: "t"})
	auth := []string{"Authorization", "Bearer t"}
	res, body := e.do(http.MethodPost, "/api/v1/collections", `{"name":"incident 1","description":"<b>db</b> slow <script>x</script>","metrics":["demo.db.latency_ms","demo.web.latency_ms"]}`, auth...)
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	res, _ = e.do(http.MethodPost, "/api/v1/collections", `{"name":"incident 1","metrics":["demo.db.latency_ms"]}`, auth...)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	res, _ = e.do(http.MethodPost, "/api/v1/collections", `{"name":"","metrics":["demo.db.latency_ms"]}`, auth...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, _ = e.do(http.MethodPost, "/api/v1/collections", `{"name":"y","metrics":[]}`, auth...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)

	_, body = e.get("/api/v1/collections")
	list := decode[struct{ Collections []CollectionSummary }](t, body).Collections
	require.Len(t, list, 1)
	require.Equal(t, []string{"demo.db.latency_ms", "demo.web.latency_ms"}, list[0].Metrics)

	res, body = e.get("/api/v1/collections/" + url.PathEscape("incident 1"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	col := decode[Collection](t, body)
	require.Len(t, col.Members, 2)
	require.NotEmpty(t, col.Members[0].Points, "frozen series")

	res, body = e.get("/collection/" + url.PathEscape("incident 1"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "db slow")
	require.NotContains(t, body, "<script>x")

	res, body = e.do(http.MethodPost, "/api/v1/collections/"+url.PathEscape("incident 1"), `{"name":"incident 2","description":"renamed"}`, auth...)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, "incident 2", decode[CollectionSummary](t, body).Name)
	res, _ = e.get("/api/v1/collections/" + url.PathEscape("incident 1"))
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, _ = e.do(http.MethodPost, "/api/v1/collections/"+url.PathEscape("incident 2")+"/delete", "", auth...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = e.do(http.MethodPost, "/api/v1/collections/"+url.PathEscape("incident 2")+"/delete", "", auth...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = e.get("/collection/nope")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestHostileNameEscaped sends the hostile metric name through every page and JSON answer.
func TestHostileNameEscaped(t *testing.T) {
	e := newEnv(t, envOptions{analyze: true, token: "t"})
	res, body := e.do(http.MethodPost, "/api/v1/collections", `{"name":"evil one","description":"<script>alert(2)</script>\"'><img src=x>","metrics":[`+string(mustJSON(hostile))+`]}`, "Authorization", "Bearer t")
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	colName := decode[CollectionSummary](t, body).Name
	pages := []string{
		"/", "/metric/" + url.PathEscape(hostile), "/metric?name=" + url.QueryEscape(hostile),
		"/search?query=" + url.QueryEscape(hostile), "/search?query=demo.web.latency_ms&filters=" + url.QueryEscape(hostile),
		"/collections", "/collection/" + url.PathEscape(colName), "/status", "/help",
		"/metric/" + url.PathEscape("no<script>such"),
	}
	for _, p := range pages {
		res, body := e.get(p)
		require.Less(t, res.StatusCode, 500, p)
		require.Contains(t, res.Header.Get("Content-Type"), "text/html", p)
		for _, raw := range []string{"<script>window.__xss", "<img src=x", "<script>alert", `"'><`} {
			require.NotContains(t, body, raw, "%s renders the hostile name unescaped", p)
		}
	}
	for _, p := range []string{"/api/v1/anomalies", "/api/v1/metrics?prefix=evil", "/api/v1/anomalies/history?metric=" + url.QueryEscape(hostile),
		"/api/v1/series?metric=" + url.QueryEscape(hostile), "/api/v1/sparklines?metric=" + url.QueryEscape(hostile), "/api/v1/collections"} {
		res, body := e.get(p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json", p)
		require.NotContains(t, body, "<script>", p)
		require.Contains(t, body, `\u003c`, "%s carries the name with < escaped", p)
	}
}

func TestSecurityHeadersAndLimits(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 3})
	for _, p := range []string{"/", "/api/v1/anomalies", "/static/app.css", "/nope"} {
		res, _ := e.get(p)
		csp := res.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'", p)
		require.Contains(t, csp, "script-src 'self'", p)
		require.NotContains(t, csp, "unsafe-inline", p)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
		require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), p)
	}
	res, body := e.do(http.MethodPost, "/api/v1/search", `{"values":[`+strings.Repeat("1,", maxSearchBody/2)+`1]}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, "too large")
	res, body = e.get("/nope")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, body, "404")
	res, _ = e.get("/static/vendor/README")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = e.get("/static/../webapp.go")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, body = e.get("/static/js/common.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")
	require.Contains(t, body, "kale")
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 1, noSearch: true})
	e.server.e.GET("/api/v1/boom", func(echo.Context) error { panic("boom") })
	res, body := e.get("/api/v1/boom")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.NotContains(t, body, "boom", "no panic detail leaks")
	require.NotEmpty(t, decode[apiError](t, body).Error)
	res, _ = e.get("/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode, "the server still serves")
}

func TestHealthzStatusAndMetrics(t *testing.T) {
	e := newEnv(t, envOptions{analyze: true})
	res, body := e.get("/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
	h := decode[map[string]any](t, body)
	require.Equal(t, "ok", h["status"])
	require.Equal(t, true, h["redis"].(map[string]any)["up"])
	require.Equal(t, true, h["analyzer"].(map[string]any)["ran"])
	require.Equal(t, true, h["oculus"].(map[string]any)["running"])
	require.EqualValues(t, 37, h["oculus"].(map[string]any)["documents"])

	_, body = e.get("/api/v1/status")
	st := decode[Status](t, body)
	require.True(t, st.Redis.Up)
	require.Positive(t, st.Redis.UsedMemory)
	require.EqualValues(t, 37, st.Redis.Metrics)
	require.Positive(t, st.Analyzer.Metrics)

	_, body = e.get("/metrics")
	require.Contains(t, body, "kale_webapp_requests_total")
	require.Contains(t, body, `route="/healthz"`)

	// Redis down: liveness stays 200 and says what is wrong; pages still answer.
	e.redis.Stop()
	res, body = e.get("/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "degraded", decode[map[string]any](t, body)["status"])
	res, body = e.get("/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, `class="error"`)
	res, _ = e.get("/status")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, body = e.get("/api/v1/anomalies")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.NotEmpty(t, decode[apiError](t, body).Error)
}

func TestRunServesAndStops(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 1, noSearch: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.server.Serve(ctx, ln) }()
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, ln.Addr().String(), e.server.Addr())
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}

	// Run reports a bad address.
	e.server.cfg.Addr = "127.0.0.1:notaport"
	err = e.server.Run(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "--webapp")
	require.False(t, errors.Is(err, context.Canceled))
}

func TestParseTime(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for in, want := range map[string]float64{
		"":                     0,
		"1699990000":           1_699_990_000,
		"1699990000000":        1_699_990_000,
		"now":                  1_700_000_000,
		"now-1h":               1_699_996_400,
		"-30m":                 1_699_998_200,
		"now-1d":               1_699_913_600,
		"2023-11-14T22:13:20Z": 1_700_000_000,
	} {
		got, err := parseTime(in, now)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"yesterday", "now-", "now-x", "NaN"} {
		_, err := parseTime(bad, now)
		require.Error(t, err, bad)
	}
}

func TestDownsampleAndBand(t *testing.T) {
	var pts points
	for i := range 1000 {
		pts = append(pts, pair(float64(i), 10))
	}
	pts = append(pts, pair(1000, 100))
	ds := downsample(pts, 60)
	require.Len(t, ds, 60)
	require.Equal(t, pair(1000, 100), ds[59], "the last point is kept exactly")
	b := expectedBand(pts)
	require.NotNil(t, b)
	require.InDelta(t, 10, float64(b.Lower), 1e-9)
	require.InDelta(t, 10, float64(b.Upper), 1e-9)
	require.Nil(t, expectedBand(pts[:2]))
	out, _ := points{pair(1_700_000_000, 1.5), pair(1_700_000_010, nan())}.MarshalJSON()
	require.JSONEq(t, `[[1700000000,1.5],[1700000010,null]]`, string(out))
}

func TestRateSampler(t *testing.T) {
	var r rateSampler
	t0 := time.Unix(1_700_000_000, 0)
	require.Empty(t, r.rates(map[string]float64{"a": 100}, t0), "no rate from one sample")
	require.Empty(t, r.rates(map[string]float64{"a": 100}, t0.Add(500*time.Millisecond)), "too soon")
	require.Equal(t, map[string]float64{"a": 10}, r.rates(map[string]float64{"a": 200}, t0.Add(10*time.Second)))
	require.Equal(t, map[string]float64{"a": 10}, r.rates(map[string]float64{"a": 300}, t0.Add(20*time.Second)))
	got := r.rates(map[string]float64{"a": 1300}, t0.Add(90*time.Second))
	require.InDelta(t, 14.3, got["a"], 1e-9, "measured against the newest sample left after dropping those older than a minute")
}

func TestTypedNilServicesAreAbsent(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 1, noSearch: true})
	var oc *oculus.Service
	s, err := New(Options{Config: configOf(e.cfg), Store: e.store, Records: recordstore.New(e.store.Client()), Search: oc, Collections: oc})
	require.NoError(t, err)
	require.Nil(t, s.search)
	require.Nil(t, s.cols)
	require.Nil(t, s.index)
}
