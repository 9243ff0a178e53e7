package webapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/utils/redisstore"
)

type detectorRow struct {
	Name  string
	Fired bool
}

type metricData struct {
	Name          string
	Latest        *recordstore.Record
	LatestCurrent bool
	Detectors     []detectorRow
	Fired         int
	Consensus     int
	History       []recordstore.Record // newest first
	Feedback      []Feedback           // newest first
	FeedbackSaved bool
	GraphURL      string
	Detector      string // --detector: names the band the charts draw (bandLegend)
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
	d := metricData{Name: name, Points: len(pts), Consensus: s.cfg.Consensus, Detector: s.cfg.Detector, Marked: map[int64]bool{}}
	d.Data = metricJS{Metric: name, Anomalies: [][2]num{}, Feedback: []int64{}, Similar: s.search != nil, Triggered: [][]string{}}
	if len(pts) > 0 {
		d.First, d.Last, d.LastValue = int64(pts[0].Timestamp), int64(pts[len(pts)-1].Timestamp), pts[len(pts)-1].Value
		d.Band = expectedBand(pts)
		d.Data.Band = d.Band
	}
	if s.cfg.GraphURL != "" {
		d.GraphURL = strings.ReplaceAll(s.cfg.GraphURL, "%s", url.QueryEscape(name))
	}
	hist, err := s.records.History(ctx, name, 0, 0, historyShown)
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	cur, _ := s.records.Current(ctx)
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
	if fb, err := s.records.Feedback(ctx, name); err == nil {
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
