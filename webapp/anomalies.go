package webapp

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
)

// apiAnomalies serves the kale.anomalies.current document as the analyzer wrote it, with an
// ETag so the dashboard's polling costs a 304 when nothing changed.
func (s *Server) apiAnomalies(c echo.Context) error {
	b, err := s.records.CurrentJSON(c.Request().Context())
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
	recs, err := s.records.History(c.Request().Context(), name, from, until, int64(limit))
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

// sortRecords orders anomaly records by score (desc), then name.
func sortRecords(recs []recordstore.Record) {
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Score != recs[j].Score {
			return recs[i].Score > recs[j].Score
		}
		return recs[i].Metric < recs[j].Metric
	})
}
