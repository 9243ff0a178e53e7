package webapp

// Graphite-web's read API on the webapp port, read-only and open like the other reads:
// /render (targets with path expressions and graphite-web's core functions, json, csv and
// raw), /metrics/find (treejson and completer), /functions and /version. Names come from the
// webapp's cached name list (names.go); tagged names ("name;k=v") are left out of path
// matching. A series' step is inferred from its data (the median interval) and its values are
// placed on that step over (from, until] as whisper does, with null for gaps.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Limits of the render API.
const (
	graphiteVersion = "1.1.10" // graphite-web's version we answer as (Grafana picks its 1.1 features)
	maxTargets      = 100      // targets of one /render
	maxRenderSeries = 10_000   // series one path expression may fetch
	maxRenderPoints = 5_000_000
)

// graphiteRoutes registers graphite-web's read API on e.
func (s *Server) graphiteRoutes(e *echo.Echo) {
	e.GET("/version", s.graphiteVersion)
	e.GET("/version/", s.graphiteVersion)
	e.GET("/functions", s.graphiteFunctions, tagsJSONErrors)
	e.GET("/functions/", s.graphiteFunctions, tagsJSONErrors)
	e.GET("/metrics/find", s.graphiteFind, tagsJSONErrors)
	e.POST("/metrics/find", s.graphiteFind, tagsJSONErrors)
	e.GET("/metrics/expand", s.graphiteExpand, tagsJSONErrors)
	e.POST("/metrics/expand", s.graphiteExpand, tagsJSONErrors)
	e.GET("/metrics/index.json", s.graphiteIndex, tagsJSONErrors)
	e.GET("/render", s.graphiteRender, tagsJSONErrors)
	e.POST("/render", s.graphiteRender, tagsJSONErrors)
}

func (s *Server) graphiteVersion(c echo.Context) error {
	return c.String(http.StatusOK, graphiteVersion)
}

// GraphiteFunction describes one function in /functions.
type GraphiteFunction struct {
	Name        string   `json:"name"`
	Group       string   `json:"group"`
	Description string   `json:"description"`
	Params      []gParam `json:"params"`
}

func (s *Server) graphiteFunctions(c echo.Context) error {
	out := make(map[string]GraphiteFunction, len(graphiteFuncs))
	for name, f := range graphiteFuncs {
		out[name] = GraphiteFunction{Name: name, Group: f.group, Description: f.desc, Params: f.params}
	}
	return c.JSON(http.StatusOK, out)
}

// formValues are the request's query and form parameters (POST bodies as Grafana sends them).
func formValues(c echo.Context) (map[string][]string, error) {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return nil, errJSON(http.StatusBadRequest, "cannot read the form: %v", err)
	}
	return r.Form, nil
}

func first(f map[string][]string, k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// plainNames are the cached names, sorted (tagged ones are skipped by the matchers).
func (s *Server) plainNames(ctx context.Context) ([]string, error) {
	names, _, err := s.names.get(ctx)
	if err != nil {
		return nil, err
	}
	return names, nil
}

func (s *Server) graphiteRender(c echo.Context) error {
	f, err := formValues(c)
	if err != nil {
		return err
	}
	targets := append(slices.Clone(f["target"]), f["target[]"]...)
	if len(targets) > maxTargets {
		return errJSON(http.StatusBadRequest, "more than %d targets", maxTargets)
	}
	loc := time.UTC
	if tz := first(f, "tz"); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return errJSON(http.StatusBadRequest, "unknown tz %q", tz)
		}
	}
	now := s.now()
	fromS, untilS := first(f, "from"), first(f, "until")
	from, until := now.Add(-s.fullDuration()).Unix(), now.Unix()
	if fromS != "" {
		if from, err = parseGraphiteTime(fromS, now, loc); err != nil {
			return errJSON(http.StatusBadRequest, "from: %v", err)
		}
	}
	if untilS != "" {
		if until, err = parseGraphiteTime(untilS, now, loc); err != nil {
			return errJSON(http.StatusBadRequest, "until: %v", err)
		}
	}
	if from >= until {
		return errJSON(http.StatusBadRequest, "from must be before until")
	}
	// maxDataPoints as graphite-web reads it: digits only, anything else ignored
	maxDP := 0
	if v := first(f, "maxDataPoints"); v != "" && isDigits(v) {
		n, err := strconv.Atoi(v)
		if err != nil || n > 1e9 {
			n = 1e9
		}
		maxDP = n
	}
	format := first(f, "format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" && format != "raw" {
		return errJSON(http.StatusBadRequest, "unsupported format %q (json, csv, raw)", format)
	}
	exprs := make([]*gExpr, len(targets))
	for i, t := range targets {
		if exprs[i], err = parseTarget(t); err != nil {
			return errJSON(http.StatusBadRequest, "%v", err)
		}
	}
	var names []string
	if len(exprs) > 0 {
		if names, err = s.plainNames(c.Request().Context()); err != nil {
			return s.unavailable(c, "the metric names", err)
		}
	}
	ev := &gEval{ctx: c.Request().Context(), from: from, until: until, fullDuration: s.fullDuration(),
		fetch: s.fetchSeries(names, now.Unix())}
	var result []*gSeries
	points := 0
	for _, e := range exprs {
		list, err := ev.eval(e)
		var st errStore
		switch {
		case errors.As(err, &st):
			return s.unavailable(c, "the series", st.error)
		case err != nil:
			return errJSON(http.StatusBadRequest, "%v", err)
		}
		for _, g := range list {
			points += len(g.vals)
		}
		if points > maxRenderPoints {
			return errJSON(http.StatusBadRequest, "the targets hold more than %d points; narrow the range or the globs", maxRenderPoints)
		}
		result = append(result, list...)
	}
	switch format {
	case "csv":
		return writeCSV(c, result, loc)
	case "raw":
		return writeRaw(c, result)
	}
	return c.JSON(http.StatusOK, renderJSON(result, from, until, maxDP))
}

// RenderSeries is one series of /render?format=json.
type RenderSeries struct {
	Target     string            `json:"target"`
	Tags       map[string]string `json:"tags"`
	Datapoints [][2]*float64     `json:"datapoints"`
}

// renderJSON builds the json answer, consolidating to maxDataPoints as graphite-web 1.1 does
// (render/views.py): over (until - from) / step points, ceil(points / maxDataPoints) values
// are averaged into one, the start nudged so the buckets stay put between refreshes;
// maxDataPoints=1 averages the whole series.
func renderJSON(list []*gSeries, from, until int64, maxDP int) []RenderSeries {
	out := make([]RenderSeries, 0, len(list))
	for _, g := range list {
		vals, start, step := g.vals, g.start, g.step
		switch n := float64(until-from) / float64(g.step); {
		case maxDP == 1:
			vals = consolidateAvg(vals, max(1, len(vals)))
			step *= int64(max(1, len(g.vals)))
		case maxDP > 0 && float64(maxDP) < n:
			per := int64(math.Ceil(n / float64(maxDP)))
			spp := per * g.step
			nudge := spp + mod(g.start, g.step) - mod(g.start, spp)
			start += nudge
			lose := int(nudge / g.step)
			for r := 1; r < lose && len(vals) > 0; r++ {
				vals = vals[1:]
			}
			vals = consolidateAvg(vals, int(per))
			step = spp
		}
		dps := make([][2]*float64, 0, len(vals))
		ts := make([]float64, len(vals)) // one allocation for every timestamp of the series
		for i, v := range vals {
			t := start + int64(i)*step
			if t > g.end {
				break
			}
			ts[i] = float64(t)
			var pv *float64
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pv = &vals[i]
			}
			dps = append(dps, [2]*float64{pv, &ts[i]})
		}
		tags := g.tags
		if tags == nil {
			tags = map[string]string{"name": g.name}
		}
		out = append(out, RenderSeries{Target: g.name, Tags: tags, Datapoints: dps})
	}
	return out
}

func writeCSV(c echo.Context, list []*gSeries, loc *time.Location) error {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	for _, g := range list {
		for i, v := range g.vals {
			ts := time.Unix(g.start+int64(i)*g.step, 0).In(loc).Format("2006-01-02 15:04:05")
			val := ""
			if !math.IsNaN(v) {
				val = pyRepr(v) // Python's str(float), as graphite-web writes it
			}
			if err := cw.Write([]string{g.name, ts, val}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeRaw(c echo.Context, list []*gSeries) error {
	var b strings.Builder
	for _, g := range list {
		fmt.Fprintf(&b, "%s,%d,%d,%d|", g.name, g.start, g.end, g.step)
		for i, v := range g.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(pyRepr(v))
		}
		b.WriteByte('\n')
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(b.String()))
}
