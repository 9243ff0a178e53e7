package webapp

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/utils/redisstore"
)

// embedded holds the templates and static assets. static/vendor is filled by `make assets`
// (uPlot from the npm registry, git-ignored); its committed README keeps the folder, and the
// build, in existence when the assets were not built.
//
//go:embed templates static
var embedded embed.FS

// chartsBuilt reports whether uPlot was built into static/vendor.
func chartsBuilt(static fs.FS) bool {
	for _, f := range []string{"vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		if st, err := fs.Stat(static, f); err != nil || st.Size() == 0 {
			return false
		}
	}
	return true
}

var funcs = template.FuncMap{
	"metricURL":     metricURL,
	"collectionURL": collectionURL,
	"collectionAPI": func(name string) string { return "/api/v1/collections/" + url.PathEscape(name) },
	"searchURL":     searchURL,
	"ago":           ago,
	"iso":           iso,
	"clock":         clock,
	"fnum":          fnum,
	"pct":           func(f analyzer.Float) string { return fmt.Sprintf("%.0f%%", 100*float64(f)) },
	"bytes":         humanBytes,
	"join":          strings.Join,
	"triggered":     triggeredSummary,
	"plain":         plainText,
	"counts":        counts,
	"short":         short,
	"add":           func(a, b int) int { return a + b },
	"seconds":       func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + " s" },
	"isotime":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"timeago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return ago(t.Unix())
	},
}

// parseTemplates parses every page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	files, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("cannot list the templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(embedded, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("cannot parse the template %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what the layout needs around each page's body.
type page struct {
	Title   string
	Nav     string
	CSRF    string
	Charts  bool
	Search  bool
	Version string
	Scripts []string
	Query   string // the navbar's search box
	Body    any
}

// render executes a page template into a buffer first, so a template error is a clean 500
// rather than half a page.
func (s *Server) render(c echo.Context, code int, name string, body any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("cannot render the page %q: no such template", name)
	}
	p, ok := body.(page)
	if !ok {
		p = page{Body: body}
	}
	if p.Nav == "" {
		p.Nav = name
	}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	p.Charts, p.Search, p.Version = s.charts, s.search != nil, s.version
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("cannot render a page", "page", name, "err", err)
		return echo.NewHTTPError(http.StatusInternalServerError, "cannot render the page (logged)")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(code, buf.Bytes())
}

type errorPage struct {
	Code    int
	Status  string
	Message string
}

// --- dashboard -------------------------------------------------------------------------------

type dashboardData struct {
	Anomalies  []analyzer.Record // every anomaly (up to maxAnomalies), as JSON for the page's script
	Rows       []analyzer.Record // the first serverRows, rendered as HTML for the first paint
	Truncated  int
	Cycle      *analyzer.CycleStats
	CycleAge   string
	Metrics    int64
	Algorithms int
	Consensus  int
	Listeners  []listener.State
	Error      string
	GraphURL   string
}

func (s *Server) dashboardPage(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	d := dashboardData{Algorithms: len(s.cfg.Algorithms), Consensus: s.cfg.Consensus, GraphURL: s.cfg.GraphURL}
	cur, err := analyzer.LoadCurrent(ctx, s.rdb)
	if err != nil {
		s.log.Warn("webapp cannot read from the store", "what", "the anomalies", "path", c.Request().URL.Path, "err", err)
		d.Error = unavailableMessage("the anomalies")
	}
	d.Anomalies = cur.Anomalies
	sortRecords(d.Anomalies)
	if len(d.Anomalies) > maxAnomalies {
		d.Truncated = len(d.Anomalies) - maxAnomalies
		d.Anomalies = d.Anomalies[:maxAnomalies]
	}
	d.Rows = d.Anomalies[:min(len(d.Anomalies), serverRows)]
	if !cur.Cycle.Started.IsZero() {
		d.Cycle = &cur.Cycle
		d.CycleAge = ago(cur.Cycle.Started.Unix())
	}
	if n, err := s.rdb.SCard(ctx, s.store.Options().FullNamespace+redisstore.UniqueSuffix).Result(); err == nil {
		d.Metrics = n
	} else if d.Error == "" {
		s.log.Warn("webapp cannot read from the store", "what", "the metric count", "path", c.Request().URL.Path, "err", err)
		d.Error = unavailableMessage("the metric count")
	}
	if s.listeners != nil {
		d.Listeners = s.listeners()
	}
	return s.render(c, http.StatusOK, "dashboard", page{Title: "Anomalies", Scripts: []string{"dashboard.js"}, Body: d})
}

// --- metric page -----------------------------------------------------------------------------

type detectorRow struct {
	Name  string
	Fired bool
}

type metricData struct {
	Name          string
	Latest        *analyzer.Record
	LatestCurrent bool
	Detectors     []detectorRow
	Fired         int
	Consensus     int
	History       []analyzer.Record // newest first
	Feedback      []Feedback        // newest first
	FeedbackSaved bool
	GraphURL      string
	Points        int
	First, Last   int64
	LastValue     float64
	Band          *Band
	Marked        map[int64]bool
	// JSON for the charts: anomaly marks and feedback.
	Data metricJS
}

type metricJS struct {
	Metric    string     `json:"metric"`
	Anomalies [][2]num   `json:"anomalies"`
	Feedback  []int64    `json:"feedback"`
	Similar   bool       `json:"similar"`
	Band      *Band      `json:"band"`
	Triggered [][]string `json:"triggered"`
}

// historyShown bounds the anomaly records listed on a metric page.
const historyShown = 200

func (s *Server) metricPage(c echo.Context) error {
	name := c.QueryParam("name")
	if c.Param("*") != "" {
		var err error
		if name, err = pathParam(c, "*"); err != nil {
			return err
		}
	}
	if name == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if len(name) > maxNameLen {
		return echo.NewHTTPError(http.StatusBadRequest, "metric name too long")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	pts, err := s.loadSeries(ctx, name)
	if errors.Is(err, redisstore.ErrNoMetric) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("No metric by that name: %q. It may not have reported yet, or Roomba purged it after it stopped reporting.", name))
	}
	if err != nil {
		return s.unavailable(c, "the series", err)
	}
	d := metricData{Name: name, Points: len(pts), Consensus: s.cfg.Consensus, Marked: map[int64]bool{}}
	d.Data = metricJS{Metric: name, Anomalies: [][2]num{}, Feedback: []int64{}, Similar: s.search != nil, Triggered: [][]string{}}
	if len(pts) > 0 {
		d.First, d.Last, d.LastValue = int64(pts[0].Timestamp), int64(pts[len(pts)-1].Timestamp), pts[len(pts)-1].Value
		d.Band = expectedBand(pts)
		d.Data.Band = d.Band
	}
	if s.cfg.GraphURL != "" {
		d.GraphURL = strings.ReplaceAll(s.cfg.GraphURL, "%s", url.QueryEscape(name))
	}
	hist, err := s.history(ctx, name, 0, 0, historyShown)
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	cur, _ := analyzer.LoadCurrent(ctx, s.rdb)
	for i := range cur.Anomalies {
		if cur.Anomalies[i].Metric == name {
			r := cur.Anomalies[i]
			d.Latest, d.LatestCurrent = &r, true
		}
	}
	if d.Latest == nil && len(hist) > 0 {
		r := hist[len(hist)-1]
		d.Latest = &r
	}
	skyline := s.cfg.Detector == "skyline"
	if d.Latest != nil {
		for _, t := range d.Latest.Triggered {
			skyline = skyline || slices.Contains(s.cfg.Algorithms, t)
		}
	}
	if d.Latest != nil && skyline {
		for _, a := range s.cfg.Algorithms {
			fired := slices.Contains(d.Latest.Triggered, a)
			if fired {
				d.Fired++
			}
			d.Detectors = append(d.Detectors, detectorRow{Name: a, Fired: fired})
		}
		for _, t := range d.Latest.Triggered { // detectors no longer configured
			if !slices.Contains(s.cfg.Algorithms, t) {
				d.Fired++
				d.Detectors = append(d.Detectors, detectorRow{Name: t, Fired: true})
			}
		}
	}
	for _, r := range hist {
		d.Data.Anomalies = append(d.Data.Anomalies, [2]num{num(r.Timestamp), num(r.Value)})
		d.Data.Triggered = append(d.Data.Triggered, r.Triggered)
	}
	d.History = slices.Clone(hist)
	slices.Reverse(d.History)
	if fb, err := s.feedback(ctx, name); err == nil {
		for _, f := range fb {
			d.Data.Feedback = append(d.Data.Feedback, f.Timestamp)
			d.Marked[f.Timestamp] = true
		}
		slices.Reverse(fb)
		d.Feedback = fb
	}
	d.FeedbackSaved = c.QueryParam("feedback") == "saved"
	return s.render(c, http.StatusOK, "metric", page{Title: name, Nav: "dashboard", Scripts: []string{"metric.js"}, Body: d})
}

// --- search page -----------------------------------------------------------------------------

type searchData struct {
	Query      string
	Method     string // dtw, euclidean, fastdtw
	Window     string
	Radius     string
	PSlop      string
	Prefix     string
	Filters    []filterChip
	DrawValues string
	Page       int
	Ran        bool
	Drawn      bool
	Error      string
	ErrorCode  int
	Result     Result
	Hits       []hitRow
	Pages      []pageLink
	From, To   int
	PrevURL    string
	NextURL    string
	Data       searchJS
	Available  bool
}

type filterChip struct {
	Segment   string
	RemoveURL string
}

type segmentLink struct {
	Segment string
	URL     string
}

type hitRow struct {
	Rank      int
	Metric    string
	Distance  string
	Segments  []segmentLink
	SearchURL string
}

type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

type searchJS struct {
	Query  string                    `json:"query"`
	Drawn  []float64                 `json:"drawn"`
	Series map[string]points         `json:"series"`
	Hits   []string                  `json:"hits"`
	Matchs map[string]map[string]int `json:"-"`
}

// searchParams are the Oculus-compatible parameters of GET /search plus Kale's own.
type searchParams struct {
	query, searchType, window, radius, pslop, prefix, drawValues string
	filters                                                      []string
	page                                                         int
}

func (p searchParams) url(page int, filters []string) string {
	v := url.Values{}
	v.Set("query", p.query)
	v.Set("search_type", p.searchType)
	if p.window != "" {
		v.Set("window", p.window)
	}
	if p.radius != "" {
		v.Set("dtw_radius", p.radius)
	}
	if p.pslop != "" {
		v.Set("p_slop", p.pslop)
	}
	if p.prefix != "" {
		v.Set("prefix", p.prefix)
	}
	if p.drawValues != "" {
		v.Set("draw_values", p.drawValues)
	}
	v.Set("filters", strings.Join(filters, "."))
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return "/search?" + v.Encode()
}

// searchMethod maps Oculus's search_type (FastDTW | Euclidian) and Kale's names to a method.
func searchMethod(t string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "", "dtw":
		return "dtw", true
	case "fastdtw":
		return "fastdtw", true
	case "euclidian", "euclidean":
		return "euclidean", true
	}
	return "", false
}

// searchPage serves /search: the form, and with ?query= or ?draw_values= the results.
func (s *Server) searchPage(c echo.Context) error {
	p := searchParams{
		query: strings.TrimSpace(c.QueryParam("query")), searchType: c.QueryParam("search_type"),
		window: strings.TrimSpace(c.QueryParam("window")), radius: strings.TrimSpace(c.QueryParam("dtw_radius")),
		pslop: c.QueryParam("p_slop"), prefix: strings.TrimSpace(c.QueryParam("prefix")),
		drawValues: strings.TrimSpace(c.QueryParam("draw_values")),
	}
	for f := range strings.SplitSeq(c.QueryParam("filters"), ".") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(p.filters, f) {
			p.filters = append(p.filters, f)
		}
	}
	d := searchData{Query: p.query, Window: p.window, Radius: p.radius, PSlop: p.pslop, Prefix: p.prefix,
		DrawValues: p.drawValues, Available: s.search != nil}
	d.Data = searchJS{Query: p.query, Series: map[string]points{}, Hits: []string{}, Drawn: []float64{}}
	method, ok := searchMethod(p.searchType)
	if !ok {
		d.Error, d.ErrorCode = fmt.Sprintf("search_type %q is not one of DTW, FastDTW, Euclidean (Euclidian)", p.searchType), http.StatusBadRequest
		method = "dtw"
	}
	d.Method = method
	p.searchType = map[string]string{"dtw": "DTW", "fastdtw": "FastDTW", "euclidean": "Euclidean"}[method]
	pageNo := 1
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			d.Error, d.ErrorCode = fmt.Sprintf("page %q is not a positive integer", v), http.StatusBadRequest
		} else {
			pageNo = n
		}
	}
	p.page, d.Page = pageNo, pageNo
	for _, f := range p.filters {
		rest := slices.DeleteFunc(slices.Clone(p.filters), func(x string) bool { return x == f })
		d.Filters = append(d.Filters, filterChip{Segment: f, RemoveURL: p.url(1, rest)})
	}
	title := "Search"
	if (p.query == "" && p.drawValues == "") || d.Error != "" {
		code := http.StatusOK
		if d.ErrorCode != 0 {
			code = d.ErrorCode
		}
		return s.render(c, code, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
	}
	if s.search == nil {
		d.Error, d.ErrorCode = errNoSearch, http.StatusServiceUnavailable
		return s.render(c, d.ErrorCode, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
	}
	q := Query{Method: method, K: pageSize, Page: pageNo - 1, Prefix: p.prefix, Exclude: p.filters}
	if p.pslop != "" {
		slop, perr := strconv.Atoi(p.pslop)
		if perr != nil || slop < 0 {
			d.Error, d.ErrorCode = fmt.Sprintf("p_slop %q is not a non-negative integer", p.pslop), http.StatusBadRequest
			return s.render(c, d.ErrorCode, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
		}
		q.Slop = &slop
	}
	var err error
	if p.drawValues != "" {
		d.Drawn = true
		q.Values, err = parseValues(p.drawValues)
		d.Data.Drawn = q.Values
	} else {
		q.Metric = p.query
	}
	if err == nil && p.window != "" {
		w, perr := strconv.ParseFloat(p.window, 64)
		if perr != nil {
			err = fmt.Errorf("window %q is not a number between 0 and 1", p.window)
		} else {
			if w > 1 && w <= 100 { // a percentage
				w /= 100
			}
			q.Window = &w
		}
	}
	if err == nil && p.radius != "" {
		r, perr := strconv.Atoi(p.radius)
		if perr != nil {
			err = fmt.Errorf("dtw_radius %q is not an integer", p.radius)
		} else {
			q.Radius = &r
		}
	}
	if err == nil {
		err = validateQuery(&q)
	}
	if err != nil {
		d.Error, d.ErrorCode = err.Error(), http.StatusBadRequest
		return s.render(c, d.ErrorCode, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
	}
	if !s.searchAllowed(c) {
		s.m.searchLimited.Inc()
		c.Response().Header().Set("Retry-After", "1")
		d.Error, d.ErrorCode = fmt.Sprintf("Too many searches from your address: at most %g per second with bursts of %d. Wait a moment and retry.",
			s.cfg.SearchRate, s.cfg.SearchBurst), http.StatusTooManyRequests
		return s.render(c, d.ErrorCode, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
	}
	res, err := s.runSearch(c.Request().Context(), q)
	if err != nil {
		var he *echo.HTTPError
		code := http.StatusInternalServerError
		msg := err.Error()
		if errors.As(err, &he) {
			code, msg = he.Code, fmt.Sprint(he.Message)
		}
		if code == http.StatusNotFound {
			msg = fmt.Sprintf("Missing metric: %q is not in the search index (yet). The index catches up with Redis every --oculus-interval; check the name with the autocomplete.", p.query)
		}
		d.Error, d.ErrorCode = msg, code
		return s.render(c, code, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
	}
	d.Ran, d.Result = true, res
	s.fillResults(c.Request().Context(), &d, p, res)
	if p.query != "" {
		title = "Search: " + p.query
	}
	return s.render(c, http.StatusOK, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
}

// maxRank is the deepest result oculus serves ((page+1)·k).
const maxRank = oculus.MaxRank

// searchChartPoints bounds the points of each result's small chart.
const searchChartPoints = 240

// fillResults builds the result rows, the pagination and the charts' data (each hit's recent
// window, read with one pipelined MGET).
func (s *Server) fillResults(ctx context.Context, d *searchData, p searchParams, res Result) {
	offset := (d.Page - 1) * pageSize
	names := make([]string, 0, len(res.Results)+1)
	for i, h := range res.Results {
		row := hitRow{Rank: offset + i + 1, Metric: h.Metric, Distance: fmtDistance(h.Distance), SearchURL: searchURL(h.Metric)}
		for seg := range strings.SplitSeq(h.Metric, ".") {
			if seg == "" || slices.Contains(p.filters, seg) {
				continue
			}
			row.Segments = append(row.Segments, segmentLink{Segment: seg, URL: p.url(1, append(slices.Clone(p.filters), seg))})
		}
		d.Hits = append(d.Hits, row)
		names = append(names, h.Metric)
		d.Data.Hits = append(d.Data.Hits, h.Metric)
	}
	if !d.Drawn && p.query != "" && !slices.Contains(names, p.query) {
		names = append(names, p.query)
	}
	d.From, d.To = offset+1, offset+len(res.Results)
	pages := min((res.Total+pageSize-1)/pageSize, maxRank/pageSize)
	if pages > 1 {
		for n := 1; n <= pages; n++ {
			if n == 1 || n == pages || (n >= d.Page-3 && n <= d.Page+3) {
				d.Pages = append(d.Pages, pageLink{N: n, URL: p.url(n, p.filters), Current: n == d.Page})
			} else if len(d.Pages) > 0 && !d.Pages[len(d.Pages)-1].Gap {
				d.Pages = append(d.Pages, pageLink{Gap: true})
			}
		}
		if d.Page > 1 {
			d.PrevURL = p.url(d.Page-1, p.filters)
		}
		if d.Page < pages {
			d.NextURL = p.url(d.Page+1, p.filters)
		}
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.store.FullKey(n)
	}
	raws, err := s.store.Raw(ctx, keys)
	if err != nil {
		return
	}
	window := s.cfg.OculusWindow.Seconds()
	if window <= 0 {
		window = 3600
	}
	var buf []redisstore.Pair
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		buf, _ = redisstore.AppendPairs(buf[:0], raw)
		sortByTime(buf)
		if len(buf) == 0 {
			continue
		}
		recent := downsample(window2(buf, buf[len(buf)-1].Timestamp-window), searchChartPoints)
		d.Data.Series[names[i]] = points(slices.Clone(recent))
	}
}

func window2(pts []redisstore.Pair, from float64) []redisstore.Pair { return window(pts, from, 0) }

// parseValues reads Oculus's draw_values: comma- (or space-) separated numbers.
func parseValues(v string) ([]float64, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	if len(fields) > maxDrawValues {
		return nil, fmt.Errorf("at most %d drawn values", maxDrawValues)
	}
	out := make([]float64, 0, len(fields))
	for _, f := range fields {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("draw_values: %q is not a number", f)
		}
		out = append(out, x)
	}
	if len(out) < 2 {
		return nil, errors.New("draw_values needs at least 2 numbers")
	}
	return out, nil
}

func fmtDistance(d float64) string {
	switch {
	case math.IsNaN(d) || math.IsInf(d, 0):
		return "—"
	case d == 0:
		return "0"
	case math.Abs(d) >= 1000 || math.Abs(d) < 0.001:
		return strconv.FormatFloat(d, 'g', 4, 64)
	}
	return strconv.FormatFloat(d, 'f', 3, 64)
}

// --- collections pages -----------------------------------------------------------------------

type collectionsData struct {
	Collections []CollectionSummary
	Available   bool
	Error       string
}

func (s *Server) collectionsPage(c echo.Context) error {
	d := collectionsData{Available: s.cols != nil}
	if s.cols != nil {
		cols, err := s.cols.Collections(c.Request().Context())
		if err != nil {
			s.log.Warn("webapp cannot read the collections", "err", err)
			d.Error = "cannot read the collections (details in the server log)"
		}
		for _, col := range cols {
			d.Collections = append(d.Collections, summarize(col))
		}
	}
	return s.render(c, http.StatusOK, "collections", page{Title: "Collections", Scripts: []string{"collections.js"}, Body: d})
}

type collectionData struct {
	Collection Collection
	Data       map[string]points
	Order      []string
}

func (s *Server) collectionPage(c echo.Context) error {
	if s.cols == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, errNoSearch)
	}
	name, err := pathParam(c, "*")
	if err != nil {
		return err
	}
	col, err := s.cols.Collection(c.Request().Context(), name)
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("No collection named %q.", name))
	}
	if err != nil {
		return s.collectionError(c, err)
	}
	d := collectionData{Collection: col, Data: map[string]points{}, Order: []string{}}
	for _, m := range col.Members {
		pts := make([]redisstore.Pair, len(m.Points))
		for i, p := range m.Points {
			pts[i] = redisstore.Pair{Timestamp: p[0], Value: p[1]}
		}
		d.Data[m.Metric] = points(downsample(pts, 600))
		d.Order = append(d.Order, m.Metric)
	}
	return s.render(c, http.StatusOK, "collection", page{Title: col.Name, Nav: "collections", Scripts: []string{"collections.js"}, Body: d})
}

// --- status and help -------------------------------------------------------------------------

func (s *Server) statusPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "status", page{Title: "Status", Body: s.collectStatus(c.Request().Context(), true, statusBound)})
}

type helpData struct {
	Listeners []listener.State
	Webapp    string
	Writes    string
	Rate      float64
	Burst     int
}

func (s *Server) helpPage(c echo.Context) error {
	d := helpData{Webapp: c.Request().Host, Writes: s.authSummary(), Rate: s.cfg.SearchRate, Burst: s.cfg.SearchBurst}
	if s.listeners != nil {
		d.Listeners = s.listeners()
	}
	return s.render(c, http.StatusOK, "help", page{Title: "Help", Body: d})
}

// --- static files ----------------------------------------------------------------------------

// staticFile serves the embedded assets with a short cache lifetime (the binary is the
// version).
func (s *Server) staticFile(c echo.Context) error {
	name := path.Clean("/" + c.Param("*"))[1:]
	if name == "" || strings.HasSuffix(name, "README") || strings.Contains(name, "..") {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	b, err := fs.ReadFile(s.static, name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, ct, b)
}

// --- template helpers ------------------------------------------------------------------------

func metricURL(name string) string     { return "/metric/" + url.PathEscape(name) }
func collectionURL(name string) string { return "/collection/" + url.PathEscape(name) }
func searchURL(name string) string {
	return "/search?" + url.Values{"query": {name}, "search_type": {"DTW"}}.Encode()
}

func ago(unix int64) string {
	d := time.Since(time.Unix(unix, 0))
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func iso(unix int64) string   { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
func clock(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05 UTC") }

func fnum(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case analyzer.Float:
		f = float64(x)
	case num:
		f = float64(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		return fmt.Sprint(v)
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "—"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case math.Abs(f) >= 1e6 || math.Abs(f) < 1e-3:
		return strconv.FormatFloat(f, 'g', 4, 64)
	}
	return strconv.FormatFloat(math.Round(f*1e4)/1e4, 'f', -1, 64)
}

// short formats a number compactly (4 significant digits, k/M/G/T from ten thousand up), as
// the UI's kale.short does.
func short(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case analyzer.Float:
		f = float64(x)
	case num:
		f = float64(x)
	default:
		return fnum(v)
	}
	a := math.Abs(f)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "—"
	case a >= 1e12:
		return strconv.FormatFloat(f/1e12, 'g', 3, 64) + "T"
	case a >= 1e9:
		return strconv.FormatFloat(f/1e9, 'g', 3, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(f/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(f/1e3, 'g', 3, 64) + "k"
	case a != 0 && a < 1e-3:
		return strconv.FormatFloat(f, 'e', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// counts formats a reason → count map as "a 1 · b 2", sorted by reason.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, " · ")
}

// triggeredSummary names the detectors that fired, or counts them when there are many.
func triggeredSummary(t []string) string {
	switch {
	case len(t) == 0:
		return ""
	case len(t) <= 2:
		return strings.Join(t, ", ")
	}
	return fmt.Sprintf("%d detectors", len(t))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
