package webapp

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/utils/redisstore"
)

// apiMetrics lists the metric names that start with ?prefix= and contain ?q= (ignoring case),
// at most ?limit= (see match); total is the number of matches.
func (s *Server) apiMetrics(c echo.Context) error {
	limit, err := intParam(c, "limit", metricsDefault, 1, metricsMax)
	if err != nil {
		return err
	}
	prefix, q := c.QueryParam("prefix"), c.QueryParam("q")
	if len(prefix) > maxNameLen || len(q) > maxNameLen {
		return errJSON(http.StatusBadRequest, "prefix or q longer than %d bytes", maxNameLen)
	}
	names, lower, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	out, total := match(names, lower, prefix, q, limit)
	return c.JSON(http.StatusOK, map[string]any{"metrics": out, "total": total})
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
