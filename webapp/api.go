package webapp

import (
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/utils/redisstore"
)

// --- Skyline compatibility -------------------------------------------------------------------

// skylineAPI is Skyline's GET /api?metric=<full key>: {"results": [[ts, v], …]} in stored
// order, 404 {"results": "Error: No metric by that name"}. Only keys of the full and mini
// namespaces are served.
func (s *Server) skylineAPI(c echo.Context) error {
	key := c.QueryParam("metric")
	o := s.store.Options()
	notFound := func() error {
		return c.JSON(http.StatusNotFound, map[string]string{"results": "Error: No metric by that name"})
	}
	name, full := strings.CutPrefix(key, o.FullNamespace)
	if !full {
		var mini bool
		if name, mini = strings.CutPrefix(key, o.MiniNamespace); !mini {
			return notFound()
		}
	}
	if len(key) > 2*maxNameLen || name == "" || s.store.ReservedName(name) {
		return notFound()
	}
	b, err := s.rdb.Get(c.Request().Context(), key).Bytes()
	if errors.Is(err, redis.Nil) || (err == nil && len(b) == 0) {
		return notFound()
	}
	if err != nil {
		s.log.Warn("webapp cannot read from the store", "what", "the series", "path", c.Request().URL.Path, "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"results": "Error: " + unavailableMessage("the series")})
	}
	pts, _ := redisstore.Series(b)
	return c.JSON(http.StatusOK, struct {
		Results points `json:"results"`
	}{points(pts)})
}

// appSettings is Skyline's GET /app_settings. OCULUS_HOST points at this server when the
// search runs in this process, so Skyline's front end links its search icon here.
func (s *Server) appSettings(c echo.Context) error {
	oculusHost := ""
	if s.search != nil {
		oculusHost = c.Scheme() + "://" + c.Request().Host
	}
	return c.JSON(http.StatusOK, map[string]string{
		"GRAPH_URL": s.cfg.GraphURL, "OCULUS_HOST": oculusHost, "FULL_NAMESPACE": s.cfg.FullNamespace,
	})
}

// anomalyDump is Skyline's JSONP anomalies.json, as the analyzer wrote it last
// (handle_data([]) before the first cycle).
func (s *Server) anomalyDump(c echo.Context) error {
	b, err := s.rdb.Get(c.Request().Context(), analyzer.KeyDump).Bytes()
	if errors.Is(err, redis.Nil) {
		b, err = []byte("handle_data([])"), nil
	}
	if err != nil {
		return s.unavailable(c, "the anomaly dump", err)
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "application/javascript; charset=utf-8", b)
}

// --- anomalies -------------------------------------------------------------------------------

// apiAnomalies serves the kale.anomalies.current document as the analyzer wrote it, with an
// ETag so the dashboard's polling costs a 304 when nothing changed.
func (s *Server) apiAnomalies(c echo.Context) error {
	b, err := s.rdb.Get(c.Request().Context(), analyzer.KeyCurrent).Bytes()
	if errors.Is(err, redis.Nil) {
		b, err = []byte(`{"anomalies":[],"cycle":null}`), nil
	}
	if err != nil {
		return s.unavailable(c, "the anomalies", err)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	etag := fmt.Sprintf(`"%x"`, h.Sum64())
	c.Response().Header().Set("ETag", etag)
	c.Response().Header().Set("Cache-Control", "no-cache")
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// Annotation is one anomaly as a Grafana annotation (times in epoch milliseconds).
type Annotation struct {
	Time      int64    `json:"time"`
	TimeEnd   int64    `json:"timeEnd"`
	Title     string   `json:"title"`
	Text      string   `json:"text"`
	Tags      []string `json:"tags"`
	Metric    string   `json:"metric"`
	Value     num      `json:"value"`
	Timestamp int64    `json:"timestamp"`
	Score     num      `json:"score"`
	Triggered []string `json:"triggered"`
}

// apiAnomalyHistory serves anomaly records between from and until (all metrics, or one with
// ?metric=) as annotation-ready items, oldest first.
func (s *Server) apiAnomalyHistory(c echo.Context) error {
	now := s.now()
	from, until, err := timeRange(c, now, 0)
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", 1000, 1, 100_000)
	if err != nil {
		return err
	}
	name := c.QueryParam("metric")
	if len(name) > maxNameLen {
		return errJSON(http.StatusBadRequest, "metric name longer than %d bytes", maxNameLen)
	}
	recs, err := s.history(c.Request().Context(), name, from, until, int64(limit))
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	out := make([]Annotation, 0, len(recs))
	for _, r := range recs {
		ms := r.Timestamp * 1000
		tags := append([]string{"kale", "anomaly"}, r.Triggered...)
		out = append(out, Annotation{
			Time: ms, TimeEnd: ms, Title: "Anomaly: " + r.Metric,
			Text: fmt.Sprintf("%s = %s (score %.2f; %s)", r.Metric, strconv.FormatFloat(float64(r.Value), 'g', 6, 64),
				float64(r.Score), strings.Join(r.Triggered, ", ")),
			Tags: tags, Metric: r.Metric, Value: num(r.Value), Timestamp: r.Timestamp, Score: num(r.Score), Triggered: r.Triggered,
		})
	}
	return c.JSON(http.StatusOK, out)
}

// --- metrics and series ----------------------------------------------------------------------

// apiMetrics lists metric names starting with ?prefix= (then, with ?q=, names containing q),
// sorted, at most ?limit=.
func (s *Server) apiMetrics(c echo.Context) error {
	limit, err := intParam(c, "limit", metricsDefault, 1, metricsMax)
	if err != nil {
		return err
	}
	prefix, q := c.QueryParam("prefix"), c.QueryParam("q")
	if len(prefix) > maxNameLen || len(q) > maxNameLen {
		return errJSON(http.StatusBadRequest, "prefix or q longer than %d bytes", maxNameLen)
	}
	names, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"metrics": match(names, prefix, q, limit), "total": len(names)})
}

// SeriesAnswer is GET /api/v1/series.
type SeriesAnswer struct {
	Metric string `json:"metric"`
	Points points `json:"points"`
}

// apiSeries serves one metric's points between from and until, time-ordered, reduced to
// ?maxpoints= by bucket averages when asked.
func (s *Server) apiSeries(c echo.Context) error {
	name := c.QueryParam("metric")
	if name == "" {
		return errJSON(http.StatusBadRequest, "missing ?metric=<name>")
	}
	if len(name) > maxNameLen {
		return errJSON(http.StatusBadRequest, "metric name longer than %d bytes", maxNameLen)
	}
	from, until, err := timeRange(c, s.now(), 0)
	if err != nil {
		return err
	}
	maxPts, err := intParam(c, "maxpoints", maxSeriesPts, 2, 1_000_000)
	if err != nil {
		return err
	}
	pts, err := s.loadSeries(c.Request().Context(), name)
	if errors.Is(err, redisstore.ErrNoMetric) {
		return errJSON(http.StatusNotFound, "no metric by that name: %q", name)
	}
	if err != nil {
		return s.unavailable(c, "the series", err)
	}
	pts = downsample(window(pts, from, until), maxPts)
	return c.JSON(http.StatusOK, SeriesAnswer{Metric: name, Points: points(pts)})
}

// Sparkline is a small summary of a metric's recent hours for the dashboard's rows.
type Sparkline struct {
	Values []num  `json:"values"`
	Last   num    `json:"last"`
	LastTS int64  `json:"last_ts"`
	Band   *Band  `json:"band"`
	Error  string `json:"error,omitempty"`
}

// sparkHours is how much of the recent past a sparkline shows.
const sparkHours = 3

// apiSparklines serves the sparklines of up to maxSparklines metrics (?metric=a&metric=b),
// read with pipelined MGETs; the dashboard asks only for the rows on screen.
func (s *Server) apiSparklines(c echo.Context) error {
	names := c.QueryParams()["metric"]
	if len(names) == 0 {
		return errJSON(http.StatusBadRequest, "missing ?metric=<name> (repeatable)")
	}
	if len(names) > maxSparklines {
		return errJSON(http.StatusBadRequest, "at most %d metrics per request", maxSparklines)
	}
	keys := make([]string, len(names))
	for i, n := range names {
		if len(n) > maxNameLen {
			return errJSON(http.StatusBadRequest, "metric name longer than %d bytes", maxNameLen)
		}
		keys[i] = s.store.FullKey(n)
	}
	raws, err := s.store.Raw(c.Request().Context(), keys)
	if err != nil {
		return s.unavailable(c, "the sparklines", err)
	}
	out := make(map[string]Sparkline, len(names))
	var buf []redisstore.Pair
	for i, raw := range raws {
		if raw == nil || s.store.ReservedName(names[i]) {
			out[names[i]] = Sparkline{Values: []num{}, Error: "no metric by that name"}
			continue
		}
		buf, _ = redisstore.AppendPairs(buf[:0], raw)
		sortByTime(buf)
		out[names[i]] = sparkline(buf)
	}
	return c.JSON(http.StatusOK, map[string]any{"sparklines": out})
}

func sparkline(pts []redisstore.Pair) Sparkline {
	if len(pts) == 0 {
		return Sparkline{Values: []num{}}
	}
	last := pts[len(pts)-1]
	recent := window(pts, last.Timestamp-sparkHours*3600, 0)
	ds := downsample(recent, sparkBuckets)
	vals := make([]num, len(ds))
	for i, p := range ds {
		vals[i] = num(p.Value)
	}
	return Sparkline{Values: vals, Last: num(last.Value), LastTS: int64(last.Timestamp), Band: expectedBand(pts)}
}

// --- collections -----------------------------------------------------------------------------

// CollectionSummary is a collection without its frozen series.
type CollectionSummary struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	Metrics     []string  `json:"metrics"`
}

func summarize(col Collection) CollectionSummary {
	names := make([]string, len(col.Members))
	for i, m := range col.Members {
		names[i] = m.Metric
	}
	return CollectionSummary{Name: col.Name, Description: col.Description, Created: col.Created, Metrics: names}
}

var (
	blockTags = regexp.MustCompile(`(?i)<(br\s*/?|/p|/div|/li|/h[1-6]|/tr)\s*>`)
	tags      = regexp.MustCompile(`<[^>]*>`)
)

// plainText turns a collection description (HTML sanitised by oculus) into the text the
// pages show; templates escape it again, so nothing in it is ever interpreted as markup.
func plainText(h string) string {
	h = blockTags.ReplaceAllString(h, "\n")
	return strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(h, "")))
}

func (s *Server) apiCollections(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	cols, err := s.cols.Collections(c.Request().Context())
	if err != nil {
		return s.collectionError(c, err)
	}
	out := make([]CollectionSummary, len(cols))
	for i, col := range cols {
		out[i] = summarize(col)
	}
	return c.JSON(http.StatusOK, map[string]any{"collections": out})
}

func (s *Server) apiCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	col, err := s.cols.Collection(c.Request().Context(), name)
	if err != nil {
		return s.collectionError(c, err)
	}
	return c.JSON(http.StatusOK, col)
}

// collectionRequest is the body of collection writes (JSON or form).
type collectionRequest struct {
	Name        string   `json:"name" form:"name"`
	Description string   `json:"description" form:"description"`
	Metrics     []string `json:"metrics" form:"metrics"`
}

func (s *Server) apiCreateCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	var r collectionRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	r.Metrics = splitList(r.Metrics)
	if err := checkCollectionRequest(r.Name, r.Description); err != nil {
		return err
	}
	if len(r.Metrics) == 0 || len(r.Metrics) > oculus.MaxCollectionMembers {
		return errJSON(http.StatusBadRequest, "a collection needs between 1 and %d metrics", oculus.MaxCollectionMembers)
	}
	col, err := s.cols.SaveCollection(c.Request().Context(), r.Name, r.Description, r.Metrics)
	if err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, collectionURL(col.Name))
	}
	return c.JSON(http.StatusCreated, summarize(col))
}

func (s *Server) apiUpdateCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	var r collectionRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	if r.Name == "" {
		r.Name = name
	}
	if err := checkCollectionRequest(r.Name, r.Description); err != nil {
		return err
	}
	col, err := s.cols.UpdateCollection(c.Request().Context(), name, r.Name, r.Description)
	if err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, collectionURL(col.Name))
	}
	return c.JSON(http.StatusOK, summarize(col))
}

func (s *Server) apiDeleteCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	if err := s.cols.DeleteCollection(c.Request().Context(), name); err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, "/collections")
	}
	return c.JSON(http.StatusOK, map[string]string{"deleted": name})
}

func checkCollectionRequest(name, description string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errJSON(http.StatusBadRequest, "a collection needs a name")
	case len(name) > oculus.MaxCollectionName:
		return errJSON(http.StatusBadRequest, "collection name longer than %d bytes", oculus.MaxCollectionName)
	case len(description) > oculus.MaxDescription:
		return errJSON(http.StatusBadRequest, "description longer than %d bytes", oculus.MaxDescription)
	}
	return nil
}

// collectionError maps a collection store's error: its own 404, 409 and 400 messages are
// the client's; anything else is logged and answered generically (503 while the index closes).
func (s *Server) collectionError(c echo.Context, err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return errJSON(http.StatusNotFound, "%v", err)
	case errors.Is(err, ErrConflict):
		return errJSON(http.StatusConflict, "%v", err)
	case errors.Is(err, ErrBadQuery):
		return errJSON(http.StatusBadRequest, "%v", err)
	}
	s.log.Warn("webapp collection request failed", "path", c.Request().URL.Path, "err", err)
	if s.draining.Load() || errors.Is(err, ErrClosed) {
		return errJSON(http.StatusServiceUnavailable, "%s", errShuttingDown)
	}
	return errJSON(http.StatusInternalServerError, "the collection request failed (details in the server log)")
}

// --- feedback --------------------------------------------------------------------------------

type feedbackRequest struct {
	Metric    string   `json:"metric" form:"metric"`
	Timestamp int64    `json:"timestamp" form:"timestamp"`
	Value     *float64 `json:"value" form:"value"`
	Triggered []string `json:"triggered" form:"triggered"`
}

// apiFeedback stores "not anomalous" for one anomaly of a metric (the latest recorded one when
// no timestamp is given) under kale.feedback.<name>.
func (s *Server) apiFeedback(c echo.Context) error {
	var r feedbackRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	if r.Metric == "" || len(r.Metric) > maxNameLen {
		return errJSON(http.StatusBadRequest, "give the metric name (\"metric\"), at most %d bytes", maxNameLen)
	}
	ctx := c.Request().Context()
	recs, err := s.history(ctx, r.Metric, float64(r.Timestamp), float64(r.Timestamp), 1)
	if r.Timestamp == 0 {
		recs, err = s.history(ctx, r.Metric, 0, 0, 1)
	}
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	f := Feedback{Timestamp: r.Timestamp, Triggered: splitList(r.Triggered), Created: s.now().Unix()}
	if r.Value != nil {
		f.Value = analyzer.Float(*r.Value)
	}
	if len(recs) > 0 {
		rec := recs[len(recs)-1]
		f.Timestamp = rec.Timestamp
		if r.Value == nil {
			f.Value = rec.Value
		}
		if len(f.Triggered) == 0 {
			f.Triggered = rec.Triggered
		}
	} else {
		n, err := s.rdb.Exists(ctx, s.store.FullKey(r.Metric)).Result()
		if err != nil {
			return s.unavailable(c, "the metric", err)
		}
		if n == 0 || s.store.ReservedName(r.Metric) {
			return errJSON(http.StatusNotFound, "no metric by that name: %q", r.Metric)
		}
		if f.Timestamp == 0 || r.Value == nil {
			return errJSON(http.StatusBadRequest, "no anomaly of %q is recorded at that time: give \"timestamp\" and \"value\"", r.Metric)
		}
	}
	if f.Triggered == nil {
		f.Triggered = []string{}
	}
	if err := s.saveFeedback(ctx, r.Metric, f); err != nil {
		s.log.Warn("webapp cannot write to the store", "what", "feedback", "err", err)
		return errJSON(http.StatusServiceUnavailable, "cannot store the feedback: Redis is unavailable or slow (details in the server log)")
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, metricURL(r.Metric)+"?feedback=saved")
	}
	return c.JSON(http.StatusCreated, map[string]any{"metric": r.Metric, "feedback": f, "key": KeyFeedbackPrefix + r.Metric})
}

func (s *Server) apiFeedbackList(c echo.Context) error {
	name := c.QueryParam("metric")
	if name == "" || len(name) > maxNameLen {
		return errJSON(http.StatusBadRequest, "give ?metric=<name>")
	}
	fb, err := s.feedback(c.Request().Context(), name)
	if err != nil {
		return s.unavailable(c, "the feedback", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"metric": name, "feedback": fb})
}

// --- helpers ---------------------------------------------------------------------------------

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

// sortRecords orders anomaly records by score (desc), then name.
func sortRecords(recs []analyzer.Record) {
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Score != recs[j].Score {
			return recs[i].Score > recs[j].Score
		}
		return recs[i].Metric < recs[j].Metric
	})
}
