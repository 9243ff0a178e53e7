package webapp

import (
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// allowedHosts is --webapp-allowed-hosts parsed: the Host header values the webapp answers,
// a guard against DNS rebinding (a hostile page whose name is re-pointed at the webapp's
// address reads it as same-origin, but its requests carry the hostile name in Host).
// Entries with a port match only that port; entries without match any port. Names compare
// case-insensitively.
type allowedHosts struct {
	any   map[string]bool // host → allowed on any port
	exact map[string]bool // host:port
}

func newAllowedHosts(list []string) *allowedHosts {
	if len(list) == 0 {
		return nil
	}
	a := &allowedHosts{any: map[string]bool{}, exact: map[string]bool{}}
	for _, h := range list {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(h); err == nil {
			a.exact[net.JoinHostPort(host, port)] = true
			continue
		}
		a.any[strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")] = true
	}
	return a
}

// allows reports whether a request's Host header is allowed.
func (a *allowedHosts) allows(hostHeader string) bool {
	h := strings.ToLower(strings.TrimSuffix(hostHeader, "."))
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
	}
	host = strings.TrimSuffix(host, ".")
	if a.any[host] {
		return true
	}
	return port != "" && a.exact[net.JoinHostPort(host, port)]
}

// checkHost refuses requests whose Host header is not in --webapp-allowed-hosts with 421
// Misdirected Request and a JSON error, pages included (a rebinding attacker reads them as
// data). The health probes are exempt: orchestrators call them by address.
func (s *Server) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.hosts == nil {
			return next(c)
		}
		switch c.Request().URL.Path {
		case "/healthz", "/readyz":
			return next(c)
		}
		if !s.hosts.allows(c.Request().Host) {
			s.m.hostRefused.Inc()
			return c.JSON(http.StatusMisdirectedRequest, apiError{Error: "this server does not answer for that host name (--webapp-allowed-hosts)"})
		}
		return next(c)
	}
}
