package webapp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// recoverer turns a panic in a handler into a logged 500 with a JSON error, never a crash or
// a stack trace sent to the client (echo's Recover, logging through slog and counting).
func (s *Server) recoverer() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		StackSize:       16 << 10,
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("webapp handler panicked", "path", c.Request().URL.Path, "panic", err.Error(), "stack", string(stack))
			s.m.panics.Inc()
			return echo.NewHTTPError(http.StatusInternalServerError, "internal error (logged)")
		},
	})
}

// errorHandler answers errors as JSON {"error": "..."} on API routes and as an HTML page
// elsewhere. Only messages the handlers wrote for the client are shown: any other error
// (it may carry Redis's or the index's own text) is logged and answered generically.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error (logged)"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			msg = fmt.Sprintf("request body too large (limit %d bytes)", bodyLimit(c.Request().URL.Path))
		}
	} else {
		s.log.Warn("webapp request failed", "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	if wantsJSON(c) {
		_ = c.JSON(code, apiError{Error: msg})
		return
	}
	_ = s.render(c, code, "error", page{Title: http.StatusText(code), Nav: "none", Body: errorPage{Code: code, Status: http.StatusText(code), Message: msg}})
}

// unavailable logs a failed read of Kale's state and answers 503 naming only what could not
// be read: the error itself may carry Redis's text (WRONGTYPE, addresses, key names), which
// stays in the server log.
func (s *Server) unavailable(c echo.Context, what string, err error) error {
	s.log.Warn("webapp cannot read from the store", "what", what, "path", c.Request().URL.Path, "err", err)
	return errJSON(http.StatusServiceUnavailable, "%s", unavailableMessage(what))
}

func unavailableMessage(what string) string {
	return "cannot read " + what + ": Redis is unavailable or slow (details in the server log)"
}

// wantsJSON reports whether a request is an API call rather than a page view.
func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api") || p == "/healthz" || p == "/readyz" || p == "/app_settings" {
		return true
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "application/json")
}

type apiError struct {
	Error string `json:"error"`
}

// errJSON answers a JSON error with status code.
func errJSON(code int, format string, args ...any) error {
	return echo.NewHTTPError(code, fmt.Sprintf(format, args...))
}
