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

	"github.com/kale-project/kale/utils/redisstore"
)

// Limits of the render API.
const (
	graphiteVersion  = "1.1.10" // graphite-web's version we answer as (Grafana picks its 1.1 features)
	maxTargets       = 100      // targets of one /render
	maxRenderSeries  = 10_000   // series one path expression may fetch
	maxRenderPoints  = 5_000_000
	defaultRenderAgo = 24 * time.Hour
)

// graphiteRoutes registers graphite-web's read API on e.
func (s *Server) graphiteRoutes(e *echo.Echo) {
	e.GET("/version", s.graphiteVersion)
	e.GET("/version/", s.graphiteVersion)
	e.GET("/functions", s.graphiteFunctions, tagsJSONErrors)
	e.GET("/functions/", s.graphiteFunctions, tagsJSONErrors)
	e.GET("/metrics/find", s.graphiteFind, tagsJSONErrors)
	e.POST("/metrics/find", s.graphiteFind, tagsJSONErrors)
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

// TreeNode is one item of /metrics/find's treejson answer.
type TreeNode struct {
	ID            string         `json:"id"`
	Text          string         `json:"text"`
	Leaf          int            `json:"leaf"`
	Expandable    int            `json:"expandable"`
	AllowChildren int            `json:"allowChildren"`
	Context       map[string]any `json:"context"`
}

// CompleterNode is one item of /metrics/find's completer answer.
type CompleterNode struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	IsLeaf string `json:"is_leaf"`
}

type foundNode struct {
	path, name string
	leaf       bool
}

// findNodes matches query node by node against the names: a name with as many nodes is a
// leaf, a longer one makes its prefix a branch. Sorted by name, branches first on a tie.
func findNodes(names []string, query string) ([]foundNode, error) {
	re, err := globRegexp(query)
	if err != nil {
		return nil, err
	}
	depth := strings.Count(query, ".") + 1
	if isGlob(query) {
		// dots inside {…} do not count as node separators of a name
		depth = nodeCount(query)
	}
	seen := map[foundNode]bool{}
	var out []foundNode
	for _, n := range names {
		if strings.IndexByte(n, ';') >= 0 {
			continue // tagged names: left out of path matching
		}
		parts := strings.SplitN(n, ".", depth+1)
		if len(parts) < depth {
			continue
		}
		prefix := strings.Join(parts[:depth], ".")
		if !re.MatchString(prefix) {
			continue
		}
		f := foundNode{path: prefix, name: parts[depth-1], leaf: len(parts) == depth}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b foundNode) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		if a.leaf == b.leaf {
			return 0
		}
		if a.leaf {
			return 1
		}
		return -1
	})
	return out, nil
}

// nodeCount counts a path expression's nodes, ignoring dots inside {…} and […].
func nodeCount(q string) int {
	n, depth := 1, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '.':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

func (s *Server) graphiteFind(c echo.Context) error {
	f, err := formValues(c)
	if err != nil {
		return err
	}
	query := first(f, "query")
	if query == "" {
		return errJSON(http.StatusBadRequest, "missing ?query=")
	}
	if len(query) > maxNameLen {
		return errJSON(http.StatusBadRequest, "query longer than %d bytes", maxNameLen)
	}
	format := first(f, "format")
	if format == "" {
		format = "treejson"
	}
	if format != "treejson" && format != "completer" {
		return errJSON(http.StatusBadRequest, "unsupported format %q (treejson, completer)", format)
	}
	if format == "completer" {
		query = strings.ReplaceAll(query, "..", "*.")
		if !strings.HasSuffix(query, "*") {
			query += "*"
		}
	}
	names, err := s.plainNames(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	nodes, err := findNodes(names, query)
	if err != nil {
		return errJSON(http.StatusBadRequest, "%v", err)
	}
	if format == "completer" {
		out := make([]CompleterNode, 0, len(nodes))
		for _, n := range nodes {
			cn := CompleterNode{Path: n.path, Name: n.name, IsLeaf: "1"}
			if !n.leaf {
				cn.Path += "."
				cn.IsLeaf = "0"
			}
			out = append(out, cn)
		}
		return c.JSON(http.StatusOK, map[string]any{"metrics": out})
	}
	base := ""
	if i := strings.LastIndexByte(query, '.'); i >= 0 {
		base = query[:i+1]
	}
	out := make([]TreeNode, 0, len(nodes))
	var leaves []TreeNode
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.name] {
			continue
		}
		seen[n.name] = true
		t := TreeNode{ID: base + n.name, Text: n.name, Context: map[string]any{}}
		if n.leaf {
			t.Leaf = 1
			leaves = append(leaves, t)
		} else {
			t.Expandable, t.AllowChildren = 1, 1
			out = append(out, t)
		}
	}
	return c.JSON(http.StatusOK, append(out, leaves...))
}

// fetchSeries is the render API's gFetcher: the names the path expression matches, read
// with MGET and aligned. Every fetch of the request (functions such as movingAverage and
// timeShift fetch again) draws on one budget of maxRenderPoints slots.
func (s *Server) fetchSeries(names []string) gFetcher {
	budget := int64(maxRenderPoints)
	return func(ctx context.Context, path string, from, until int64) ([]*gSeries, error) {
		var matched []string
		if isGlob(path) {
			re, err := globRegexp(path)
			if err != nil {
				return nil, errBadTarget{err}
			}
			for _, n := range names {
				if strings.IndexByte(n, ';') < 0 && re.MatchString(n) {
					matched = append(matched, n)
				}
			}
		} else if _, ok := slices.BinarySearch(names, path); ok {
			matched = []string{path}
		}
		if len(matched) > maxRenderSeries {
			return nil, errBadTarget{fmt.Errorf("%q matches %d series, more than %d", path, len(matched), maxRenderSeries)}
		}
		keys := make([]string, len(matched))
		for i, n := range matched {
			keys[i] = s.store.FullKey(n)
		}
		raw, err := s.store.Raw(ctx, keys)
		if err != nil {
			return nil, errStore{err}
		}
		out := make([]*gSeries, 0, len(matched))
		for i, b := range raw {
			if b == nil {
				continue
			}
			pairs, _ := redisstore.Series(b)
			g := alignSeries(matched[i], pairs, from, until, budget)
			if g == nil {
				return nil, errBadTarget{fmt.Errorf("the targets hold more than %d points; narrow the range or the globs", maxRenderPoints)}
			}
			budget -= int64(len(g.vals))
			g.pathExpr = path
			out = append(out, g)
		}
		return out, nil
	}
}

type errBadTarget struct{ error }
type errStore struct{ error }

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
	from, until := now.Add(-defaultRenderAgo).Unix(), now.Unix()
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
	maxDP := 0
	if v := first(f, "maxDataPoints"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 1 || n > 1e9 {
			return errJSON(http.StatusBadRequest, "maxDataPoints must be a positive number")
		}
		maxDP = int(n)
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
	ev := &gEval{ctx: c.Request().Context(), from: from, until: until, fetch: s.fetchSeries(names)}
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
	Target     string        `json:"target"`
	Datapoints [][2]*float64 `json:"datapoints"`
}

// renderJSON builds the json answer, consolidating to maxDataPoints as graphite-web does.
func renderJSON(list []*gSeries, from, until int64, maxDP int) []RenderSeries {
	out := make([]RenderSeries, 0, len(list))
	for _, g := range list {
		vals, start, step := g.vals, g.start, g.step
		if n := (until - from) / g.step; maxDP > 0 && int64(maxDP) < n {
			per := int64(math.Ceil(float64(n) / float64(maxDP)))
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
		for i, v := range vals {
			ts := start + int64(i)*step
			if ts > g.end {
				break
			}
			t := float64(ts)
			var pv *float64
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pv = ptr(v)
			}
			dps = append(dps, [2]*float64{pv, &t})
		}
		out = append(out, RenderSeries{Target: g.name, Datapoints: dps})
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
				val = strconv.FormatFloat(v, 'f', -1, 64)
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
