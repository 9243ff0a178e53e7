package webapp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// contentSecurityPolicy allows only the server's own scripts, styles and connections: no
// inline script, no framing (clickjacking), no plugins, forms posting only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every answer carries. Own middleware rather than echo's
// Secure: that one lacks Cross-Origin-Opener-Policy, Cross-Origin-Resource-Policy and
// Permissions-Policy, and sends the obsolete X-XSS-Protection by default.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		return next(c)
	}
}

// --- authentication -------------------------------------------------------------------------

// noCredentials explains why a write is refused when none are configured.
const noCredentials = "writes are disabled because no credentials are configured: set --webapp-token " +
	"(env KALE_WEBAPP_TOKEN) for API clients, or --webapp-user and --webapp-password " +
	"(KALE_WEBAPP_USER, KALE_WEBAPP_PASSWORD) for the browser"

// requireAuth lets a state-changing request through only with the configured bearer token or
// basic-auth credentials. There is no default password: with nothing configured every write
// is refused with 403. Failed attempts are throttled per client (authFailRate); while a client
// is throttled its attempts are refused with 429 before the credentials are looked at.
//
// Own middleware rather than echo's KeyAuth and BasicAuth: either scheme may authorise a
// write, an unconfigured server answers 403 rather than a challenge, the UI's own requests get
// no Basic challenge, and failures feed the throttle.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := s.cfg.Token
		user, pass := s.cfg.User, s.cfg.Password
		if token == "" && (user == "" || pass == "") {
			s.m.writesRefused.WithLabelValues("unconfigured").Inc()
			return errJSON(http.StatusForbidden, "%s", noCredentials)
		}
		client := clientKey(c)
		if wait := s.authFails.wait(client, time.Now()); wait > 0 {
			s.m.writesRefused.WithLabelValues("throttled").Inc()
			c.Response().Header().Set("Retry-After", retryAfter(wait))
			return errJSON(http.StatusTooManyRequests, "too many failed sign-in attempts from this address: retry in %s s", retryAfter(wait))
		}
		authz := c.Request().Header.Get("Authorization")
		if token != "" {
			if t, ok := bearerToken(authz); ok && equal(t, token) {
				c.Set(ctxBearer, true)
				return next(c)
			}
		}
		// The UI's own requests (X-Requested-With: kale-ui) get no Basic challenge, so the browser
		// does not open its native prompt on top of the UI's sign-in dialog.
		ui := c.Request().Header.Get("X-Requested-With") == "kale-ui"
		if user != "" && pass != "" {
			if u, p, ok := c.Request().BasicAuth(); ok {
				userOK, passOK := equal(u, user), equal(p, pass) // both compared, whatever the first says
				if userOK && passOK {
					return next(c)
				}
			}
			if !ui {
				c.Response().Header().Set("WWW-Authenticate", `Basic realm="kale", charset="UTF-8"`)
			}
		} else {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="kale"`)
		}
		s.m.writesRefused.WithLabelValues("unauthorized").Inc()
		if authz == "" {
			return errJSON(http.StatusUnauthorized, "this action needs credentials: send Authorization: Bearer <--webapp-token> or basic auth (--webapp-user/--webapp-password)")
		}
		s.authFails.fail(client, time.Now())
		return errJSON(http.StatusUnauthorized, "wrong credentials")
	}
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header; the scheme is
// case-insensitive (RFC 7235).
func bearerToken(authz string) (string, bool) {
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// equal compares secrets in constant time, lengths included: it compares their SHA-256 sums.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// --- CSRF (double-submit cookie) -------------------------------------------------------------

const (
	csrfCookieName = "kale_csrf"
	csrfHeader     = "X-CSRF-Token"
	csrfField      = "_csrf"
	ctxCSRF        = "csrf"
	ctxBearer      = "bearer"
)

// Own CSRF middleware rather than echo's CSRF: the check must run after authentication (a
// bearer-authenticated request is exempt) and only on the guarded writes, and it also refuses
// writes a browser marks Sec-Fetch-Site: cross-site.

// csrfCookie gives every browser a random token in a SameSite=Strict cookie; pages render the
// same token into a <meta> tag and forms, and writes must send it back (checkCSRF). A
// cross-site page can neither read the cookie nor the page, so it cannot forge the pair.
func (s *Server) csrfCookie(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := ""
		p := c.Request().URL.Path
		if ck, err := c.Cookie(csrfCookieName); err == nil && validToken(ck.Value) {
			token = ck.Value
		} else if !strings.HasPrefix(p, "/api") && !strings.HasPrefix(p, "/static/") && p != "/metrics" && p != "/healthz" {
			// Pages only: API clients, scrapers and assets get no cookie.
			var b [32]byte
			_, _ = rand.Read(b[:])
			token = hex.EncodeToString(b[:])
			c.SetCookie(&http.Cookie{Name: csrfCookieName, Value: token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https", MaxAge: 7 * 86400})
		}
		c.Set(ctxCSRF, token)
		return next(c)
	}
}

func validToken(t string) bool {
	if len(t) != 64 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

// checkCSRF rejects a browser write whose CSRF token (X-CSRF-Token header or _csrf form field)
// does not match its cookie, and any write a browser marks as cross-site. Requests that
// authenticated with a bearer token are exempt: browsers never attach one on their own.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if b, _ := c.Get(ctxBearer).(bool); b {
			return next(c)
		}
		if c.Request().Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.m.writesRefused.WithLabelValues("csrf").Inc()
			return errJSON(http.StatusForbidden, "cross-site request refused")
		}
		ck, err := c.Cookie(csrfCookieName)
		sent := c.Request().Header.Get(csrfHeader)
		if sent == "" && isForm(c) {
			sent = c.FormValue(csrfField)
		}
		if err != nil || sent == "" || !equal(sent, ck.Value) {
			s.m.writesRefused.WithLabelValues("csrf").Inc()
			return errJSON(http.StatusForbidden, "missing or invalid CSRF token: reload the page and try again "+
				"(API clients: authenticate with Authorization: Bearer <--webapp-token>)")
		}
		return next(c)
	}
}

func isForm(c echo.Context) bool {
	ct := c.Request().Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

// basicAuthHeader builds a basic Authorization header (tests and docs).
func basicAuthHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// --- self-metrics ----------------------------------------------------------------------------

type metrics struct {
	requests      *prometheus.CounterVec
	seconds       *prometheus.HistogramVec
	searchLimited prometheus.Counter
	searchFailed  *prometheus.CounterVec
	hostRefused   prometheus.Counter
	writesRefused *prometheus.CounterVec
	panics        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_webapp_requests_total", Help: "HTTP requests served by the webapp, by route and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kale_webapp_request_seconds", Help: "Server time of webapp requests, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		searchLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_webapp_search_limited_total", Help: "Search requests refused by the per-client rate limit (--search-rate).",
		}),
		searchFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_webapp_search_failed_total", Help: "Searches answered without results, by reason (timeout, shutting_down, cancelled, error).",
		}, []string{"reason"}),
		hostRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_webapp_host_refused_total", Help: "Requests refused because their Host header is not in --webapp-allowed-hosts.",
		}),
		writesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kale_webapp_writes_refused_total", Help: "State-changing requests refused, by reason (unconfigured, unauthorized, throttled, csrf).",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kale_webapp_panics_total", Help: "Handler panics recovered (each logged with its stack).",
		}),
	}
	var err error
	m.requests, err = register(reg, m.requests)
	if err == nil {
		m.seconds, err = register(reg, m.seconds)
	}
	if err == nil {
		m.searchLimited, err = register(reg, m.searchLimited)
	}
	if err == nil {
		m.searchFailed, err = register(reg, m.searchFailed)
	}
	if err == nil {
		m.hostRefused, err = register(reg, m.hostRefused)
	}
	if err == nil {
		m.writesRefused, err = register(reg, m.writesRefused)
	}
	if err == nil {
		m.panics, err = register(reg, m.panics)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot register the webapp metrics: %w", err)
	}
	// Every known reason is exported at 0 from the start, so absent() alerts and dashboards
	// see the series before the first refusal or failure.
	for _, r := range searchFailReasons {
		m.searchFailed.WithLabelValues(r)
	}
	for _, r := range writeRefusalReasons {
		m.writesRefused.WithLabelValues(r)
	}
	return m, nil
}

// The reasons of kale_webapp_search_failed_total and kale_webapp_writes_refused_total.
var (
	searchFailReasons   = []string{"timeout", "shutting_down", "cancelled", "error"}
	writeRefusalReasons = []string{"unconfigured", "unauthorized", "throttled", "csrf"}
)

// register registers c, or reuses the collector already registered under its name (a second
// Server on the same registry, as in tests).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// observe counts requests and their server time by route pattern (bounded label values).
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t0 := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		code := c.Response().Status
		var he *echo.HTTPError
		if err != nil && errors.As(err, &he) {
			code = he.Code
		} else if err != nil {
			code = http.StatusInternalServerError
		}
		s.m.requests.WithLabelValues(route, fmt.Sprint(code)).Inc()
		s.m.seconds.WithLabelValues(route).Observe(time.Since(t0).Seconds())
		return err
	}
}
