package webapp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// bindBody reads a JSON or form body.
func bindBody(c echo.Context, v any) error {
	if isForm(c) {
		if err := (&echo.DefaultBinder{}).BindBody(c, v); err != nil {
			return errJSON(http.StatusBadRequest, "cannot read the form: %v", err)
		}
		return nil
	}
	return decodeJSON(c, v)
}

// splitList accepts repeated values and comma- or newline-separated lists.
func splitList(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range in {
		for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
			p = strings.TrimSpace(p)
			if p != "" && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// pathParam returns a path parameter unescaped (echo leaves it escaped when the path holds
// escaped characters such as %2F).
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath != "" {
		u, err := url.PathUnescape(v)
		if err != nil {
			return "", errJSON(http.StatusBadRequest, "bad escape in the path: %v", err)
		}
		v = u
	}
	if v == "" || len(v) > maxNameLen {
		return "", errJSON(http.StatusBadRequest, "missing or too long name in the path")
	}
	return v, nil
}

// intParam reads an integer query parameter within [lo, hi].
func intParam(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errJSON(http.StatusBadRequest, "?%s=%q is not an integer between %d and %d", name, v, lo, hi)
	}
	return n, nil
}

// timeRange reads ?from= and ?until= (also ?to=).
func timeRange(c echo.Context, now time.Time, defFrom float64) (float64, float64, error) {
	from, err := parseTime(c.QueryParam("from"), now)
	if err != nil {
		return 0, 0, errJSON(http.StatusBadRequest, "from: %v", err)
	}
	u := c.QueryParam("until")
	if u == "" {
		u = c.QueryParam("to")
	}
	until, err := parseTime(u, now)
	if err != nil {
		return 0, 0, errJSON(http.StatusBadRequest, "until: %v", err)
	}
	if from == 0 {
		from = defFrom
	}
	if from != 0 && until != 0 && until < from {
		return 0, 0, errJSON(http.StatusBadRequest, "until is before from")
	}
	return from, until, nil
}
