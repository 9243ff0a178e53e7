package webapp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/oculus"
)

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
	Self       bool // include_self: keep the query metric among the results
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
	Indexing   string // "indexing: 1,204 of 36,000 metrics" while the index catches up; "" otherwise
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
	includeSelf                                                  bool
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
	if p.includeSelf {
		v.Set("include_self", "true")
	}
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
	if v := c.QueryParam("include_self"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil && v != "on" { // "on": an HTML checkbox
			return s.render(c, http.StatusBadRequest, "search", page{Title: "Search", Scripts: []string{"search.js"}, Query: p.query,
				Body: searchData{Query: p.query, Error: fmt.Sprintf("include_self %q is not true or false", v), ErrorCode: http.StatusBadRequest,
					Available: s.search != nil, Data: searchJS{Query: p.query, Series: map[string]points{}, Hits: []string{}, Drawn: []float64{}}}})
		}
		p.includeSelf = b || v == "on"
	}
	for f := range strings.SplitSeq(c.QueryParam("filters"), ".") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(p.filters, f) {
			p.filters = append(p.filters, f)
		}
	}
	d := searchData{Query: p.query, Window: p.window, Radius: p.radius, PSlop: p.pslop, Prefix: p.prefix,
		DrawValues: p.drawValues, Self: p.includeSelf, Available: s.search != nil, Indexing: s.indexingNote(c.Request().Context())}
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
	q := Query{Method: method, K: pageSize, Page: pageNo - 1, Prefix: p.prefix, Exclude: p.filters, Windows: true, IncludeSelf: p.includeSelf}
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
	d.Data.Series = searchCharts(q, res)
	if p.query != "" {
		title = "Search: " + p.query
	}
	return s.render(c, http.StatusOK, "search", page{Title: title, Scripts: []string{"search.js"}, Query: p.query, Body: d})
}

// indexingNote says how far the search index is while it catches up with Redis (new metrics
// not searchable yet, or the first sync running), "" when it is current or unknown.
func (s *Server) indexingNote(ctx context.Context) string {
	if s.index == nil {
		return ""
	}
	st := s.index.Status(ctx)
	if !st.CatchingUp {
		return ""
	}
	if st.Metrics <= 0 {
		return "indexing: the search index is being built; new metrics are not searchable yet"
	}
	return fmt.Sprintf("indexing: %s of %s metrics", groupDigits(min(st.Documents, st.Metrics)), groupDigits(st.Metrics))
}

// groupDigits writes n with thousands separators: 36000 → "36,000".
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// maxRank is the deepest result oculus serves ((page+1)·k).
const maxRank = oculus.MaxRank

// searchChartPoints bounds the points of each result's small chart.
const searchChartPoints = 240

// fillResults builds the result rows and the pagination.
func (s *Server) fillResults(ctx context.Context, d *searchData, p searchParams, res Result) {
	offset := (d.Page - 1) * pageSize
	for i, h := range res.Results {
		row := hitRow{Rank: offset + i + 1, Metric: h.Metric, Distance: fmtDistance(h.Distance), SearchURL: searchURL(h.Metric)}
		for seg := range strings.SplitSeq(h.Metric, ".") {
			if seg == "" || slices.Contains(p.filters, seg) {
				continue
			}
			row.Segments = append(row.Segments, segmentLink{Segment: seg, URL: p.url(1, append(slices.Clone(p.filters), seg))})
		}
		d.Hits = append(d.Hits, row)
		d.Data.Hits = append(d.Data.Hits, h.Metric)
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
}

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
