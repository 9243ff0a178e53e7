package webapp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/config"
)

func TestSearchLimiterKeepsBucketsUnderManyAddresses(t *testing.T) {
	l := newSearchLimiter(0.001, 2)
	allow := func(id string) bool { ok, _ := l.Allow(id); return ok }
	require.True(t, allow("198.51.100.7"))
	require.True(t, allow("198.51.100.7"))
	require.False(t, allow("198.51.100.7"), "burst spent")
	for i := range 20_000 { // more addresses than the old limiter's 10,000 before it cleared everyone
		allow(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
	}
	require.False(t, allow("198.51.100.7"), "other addresses do not refill this one's bucket")
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, key string }{
		{"198.51.100.7:5000", "198.51.100.7"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:5000", "2001:db8:1:2::/64"},
		{"[::ffff:198.51.100.7]:5000", "198.51.100.7"},
	} {
		e := echo.New()
		e.IPExtractor = echo.ExtractIPDirect()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.remote
		require.Equal(t, tc.key, clientKey(e.NewContext(req, httptest.NewRecorder())), tc.remote)
	}
}

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newFailureLimiter(5, 10, 3)
	for range 10 {
		require.Zero(t, l.wait("a", now))
		l.fail("a", now)
	}
	require.Equal(t, 200*time.Millisecond, l.wait("a", now), "burst of 10 spent: one token in 1/5 s")
	require.Zero(t, l.wait("b", now), "other clients are not affected")
	require.Zero(t, l.wait("a", now.Add(200*time.Millisecond)), "refilled at 5 per second")

	// Full map: refilled buckets are swept, busy ones kept; beyond, new clients share a bucket.
	l.fail("b", now)
	l.fail("c", now)
	soon := now.Add(100 * time.Millisecond)
	for range 10 {
		l.fail("d", soon) // the map is full (a, b, c) and nothing has refilled yet
	}
	require.Positive(t, l.wait("a", soon), "a's bucket was kept")
	require.Equal(t, 3, len(l.clients))
	require.Positive(t, l.wait("e", soon), "untracked clients share the overflow bucket")
	require.Zero(t, l.wait("a", now.Add(time.Minute)))
	l.fail("f", now.Add(time.Minute)) // a, b, c refilled: swept, f tracked alone
	require.Equal(t, 1, len(l.clients))
}

func TestAuthHardening(t *testing.T) {
	s, base := newBare(t, nil, func(c *config.Config) {
		c.WebappToken, c.WebappUser, c.WebappPassword = "tok3n", "ops", "pw"
	})
	write := func(authz string) (*http.Response, string) {
		return post(t, base, "/api/v1/admin/log-level", `{"level":"info"}`, "Authorization", authz)
	}
	// The scheme is case-insensitive (RFC 7235); a wrong secret of another length is refused.
	for _, tc := range []struct {
		authz string
		code  int
	}{
		{"Bearer tok3n", http.StatusServiceUnavailable}, // authorised; this server has no log level to change
		{"bearer tok3n", http.StatusServiceUnavailable},
		{"BEARER  tok3n", http.StatusServiceUnavailable},
		{"Bearer tok3n-and-more", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"basic " + strings.TrimPrefix(basicAuthHeader("ops", "pw"), "Basic "), http.StatusForbidden}, // authorised; CSRF missing
	} {
		res, body := write(tc.authz)
		require.Equal(t, tc.code, res.StatusCode, "%s: %s", tc.authz, body)
	}
	require.True(t, equal("same", "same"))
	require.False(t, equal("same", "same-but-longer"))

	// Wrong passwords are throttled: after the burst, 429 with Retry-After, even for the right one.
	s.authFails = newFailureLimiter(authFailRate, authFailBurst, authFailClients) // fresh budget
	codes := map[int]int{}
	for range 40 {
		res, _ := write(basicAuthHeader("ops", "guess"))
		codes[res.StatusCode]++
		if res.StatusCode == http.StatusTooManyRequests {
			n, err := strconv.Atoi(res.Header.Get("Retry-After"))
			require.NoError(t, err)
			require.GreaterOrEqual(t, n, 1)
		}
	}
	require.LessOrEqual(t, codes[http.StatusUnauthorized], authFailBurst+2, "at most the burst (plus refill) is checked")
	require.Positive(t, codes[http.StatusTooManyRequests])
	res, body := write("Bearer tok3n")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "a right secret is not told apart while throttled")
	require.Contains(t, decode[apiError](t, body).Error, "failed sign-in attempts")
	require.Eventually(t, func() bool {
		res, _ := write("Bearer tok3n")
		return res.StatusCode == http.StatusServiceUnavailable
	}, 3*time.Second, 50*time.Millisecond, "the budget refills")
	// Requests without credentials cost nothing.
	s.authFails = newFailureLimiter(authFailRate, authFailBurst, authFailClients)
	for range 30 {
		res, _ := post(t, base, "/api/v1/admin/log-level", `{"level":"info"}`)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
}

func TestAllowedHosts(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		host    string
		ok      bool
	}{
		{[]string{"kale.example.com"}, "kale.example.com", true},
		{[]string{"kale.example.com"}, "KALE.Example.com:1500", true},
		{[]string{"kale.example.com"}, "kale.example.com.", true},
		{[]string{"kale.example.com"}, "evil.example.com", false},
		{[]string{"kale.example.com"}, "kale.example.com.evil.net", false},
		{[]string{"127.0.0.1:1500"}, "127.0.0.1:1500", true},
		{[]string{"127.0.0.1:1500"}, "127.0.0.1:1501", false},
		{[]string{"127.0.0.1:1500"}, "127.0.0.1", false},
		{[]string{"[::1]:1500", "localhost"}, "[::1]:1500", true},
		{[]string{"[::1]"}, "[::1]:8080", true},
		{[]string{"localhost"}, "", false},
	} {
		require.Equal(t, tc.ok, newAllowedHosts(tc.allowed).allows(tc.host), "%v %q", tc.allowed, tc.host)
	}
	require.Nil(t, newAllowedHosts(nil), "empty answers any host")

	_, base := newBare(t, nil, func(c *config.Config) { c.WebappAllowedHosts = []string{"kale.example.com", "127.0.0.1"} })
	u, _ := url.Parse(base)
	for _, tc := range []struct {
		path, host string
		code       int
	}{
		{"/api/v1/anomalies", u.Host, http.StatusOK},
		{"/api/v1/anomalies", "kale.example.com", http.StatusOK},
		{"/api/v1/anomalies", "rebound.attacker.example", http.StatusMisdirectedRequest},
		{"/", "rebound.attacker.example", http.StatusMisdirectedRequest},
		{"/healthz", "rebound.attacker.example", http.StatusOK},
		{"/readyz", "rebound.attacker.example", http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, base+tc.path, nil)
		require.NoError(t, err)
		req.Host = tc.host
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, tc.code, res.StatusCode, "%s with Host %s", tc.path, tc.host)
		if tc.code == http.StatusMisdirectedRequest {
			require.Contains(t, res.Header.Get("Content-Type"), "application/json")
		}
	}
}

func TestReservedNamesReadAsUnknown(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 3, noSearch: true, token: "tok3n"})
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{http.MethodGet, "/api/v1/series?metric=unique_metrics", "", http.StatusNotFound},
		{http.MethodGet, "/metric/unique_metrics", "", http.StatusNotFound},
		{http.MethodGet, "/metric?name=unique_metrics", "", http.StatusNotFound},
		{http.MethodGet, "/api?metric=metrics.unique_metrics", "", http.StatusNotFound},
		{http.MethodGet, "/api?metric=mini.unique_metrics", "", http.StatusNotFound},
		{http.MethodPost, "/api/v1/feedback", `{"metric":"unique_metrics","timestamp":1700000000,"value":1}`, http.StatusNotFound},
		{http.MethodGet, "/api/v1/sparklines?metric=unique_metrics", "", http.StatusOK},
	} {
		res, body := e.do(tc.method, tc.path, tc.body, "Authorization", "Bearer tok3n")
		require.Equal(t, tc.code, res.StatusCode, "%s: %s", tc.path, body)
		require.NotContains(t, body, "WRONGTYPE", tc.path)
	}
	_, body := e.get("/api/v1/sparklines?metric=unique_metrics")
	require.Equal(t, "no metric by that name", decode[struct{ Sparklines map[string]Sparkline }](t, body).Sparklines["unique_metrics"].Error)
}

func TestServerErrorsDoNotEchoRedis(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 3, noSearch: true})
	e.redis.Stop()
	for _, p := range []string{
		"/api/v1/anomalies", "/api/v1/series?metric=demo.web.requests", "/api/v1/anomalies/history",
		"/api?metric=metrics.demo.web.requests", "/static/dump/anomalies.json", "/metric/demo.web.requests",
		"/api/v1/feedback?metric=demo.web.requests", "/",
	} {
		res, body := e.get(p)
		if res.StatusCode < 500 {
			require.Equal(t, "/", p, "only the dashboard answers 200 with its error shown")
		}
		for _, leak := range []string{"dial tcp", "connection refused", e.redis.Addr} {
			require.NotContains(t, body, leak, p)
		}
	}
}
