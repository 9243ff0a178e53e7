package webapp

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// Throttles of failed credential attempts, per client (see clientKey).
const (
	authFailRate    = 5      // failed attempts per second, refilled continuously
	authFailBurst   = 10     // failed attempts at once before authFailRate applies
	authFailClients = 10_000 // clients tracked one by one; beyond, new ones share one bucket
	searchIdle      = 3 * time.Minute
)

// clientKey is the address the per-client limits count against: the peer's IPv4 address, or
// the /64 of an IPv6 address (one host usually holds a whole /64, so counting single IPv6
// addresses would let it pose as 2^64 clients).
func clientKey(c echo.Context) string {
	a, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return c.RealIP()
	}
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// newSearchLimiter is the per-client search budget (--search-rate per second, bursts of
// --search-burst) in echo's memory store. A client's bucket is dropped after it has been idle
// for searchIdle, or for as long as a bucket takes to refill when that is longer (a dropped
// bucket comes back full, so dropping it earlier would hand out tokens early); nobody else's
// bucket is touched however many addresses are tracked.
func newSearchLimiter(perSecond float64, burst int) *middleware.RateLimiterMemoryStore {
	if perSecond <= 0 {
		perSecond = 10
	}
	burst = max(burst, 1)
	idle := max(searchIdle, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	return middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: idle,
	})
}

// rateLimited applies the per-client search limit (429 with Retry-After when exceeded).
func (s *Server) rateLimited() echo.MiddlewareFunc {
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               s.searchLimit,
		IdentifierExtractor: func(c echo.Context) (string, error) { return clientKey(c), nil },
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			s.m.searchLimited.Inc()
			c.Response().Header().Set("Retry-After", "1")
			return errJSON(http.StatusTooManyRequests, "too many searches from this address: at most %g per second with bursts of %d (--search-rate, --search-burst)",
				s.cfg.SearchRate, s.cfg.SearchBurst)
		},
	})
}

// searchAllowed takes a token from the client's search budget (the search page's check; the
// API route uses rateLimited on the same store).
func (s *Server) searchAllowed(c echo.Context) bool {
	ok, _ := s.searchLimit.Allow(clientKey(c))
	return ok
}

// failureLimiter throttles failed credential attempts: each failure takes a token from the
// client's bucket, and while the bucket is empty every attempt from that client, right or
// wrong, is refused before the credentials are checked, so guessing runs at most at the
// bucket's rate. Buckets that have refilled carry no information and are swept when the map
// is full; if it is still full, further clients share one bucket (they are throttled together
// rather than anyone's bucket being cleared).
//
// Own code rather than echo's RateLimiterMemoryStore: that store can only take a token, and
// this check must look at a bucket without taking one (only failures cost a token, and a
// correct password must get the same 429 as a wrong one while throttled).
type failureLimiter struct {
	mu        sync.Mutex
	r         rate.Limit
	burst     int
	max       int
	clients   map[string]*rate.Limiter
	shared    *rate.Limiter
	lastSweep time.Time
}

func newFailureLimiter(perSecond float64, burst, maxClients int) *failureLimiter {
	return &failureLimiter{r: rate.Limit(perSecond), burst: burst, max: maxClients,
		clients: map[string]*rate.Limiter{}, shared: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// wait is how long client must wait before its next attempt is looked at (0: now).
func (l *failureLimiter) wait(client string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) < l.max {
			return 0
		}
		lim = l.shared
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) / float64(l.r) * float64(time.Second)))
}

// fail records a failed attempt of client.
func (l *failureLimiter) fail(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= l.max && now.Sub(l.lastSweep) >= time.Second {
			l.lastSweep = now
			for k, v := range l.clients {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.clients, k)
				}
			}
		}
		if len(l.clients) < l.max {
			lim = rate.NewLimiter(l.r, l.burst)
			l.clients[client] = lim
		} else {
			lim = l.shared
		}
	}
	lim.AllowN(now, 1)
}

// retryAfter formats a wait for the Retry-After header (whole seconds, at least 1).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
