package webapp

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/horizon/listener"
)

type dashboardData struct {
	Anomalies  []recordstore.Record // every anomaly (up to maxAnomalies), as JSON for the page's script
	Rows       []recordstore.Record // the first serverRows, rendered as HTML for the first paint
	Truncated  int
	Cycle      *recordstore.CycleStats
	CycleAge   string
	Metrics    int64
	Detector   string // --detector: names the band the charts draw (bandLegend)
	Algorithms int
	Consensus  int
	Listeners  []listener.State
	Error      string
	GraphURL   string
}

func (s *Server) dashboardPage(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	d := dashboardData{Detector: s.cfg.Detector, Algorithms: len(s.cfg.Algorithms), Consensus: s.cfg.Consensus, GraphURL: s.cfg.GraphURL}
	cur, err := s.records.Current(ctx)
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
	if n, err := s.stats.MetricCount(ctx); err == nil {
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

// bandLegend names the band the charts draw (kale.band in common.js, Band on the server):
// the exponentially weighted moving average (centre of mass 50) ± 3 exponentially weighted
// standard deviations of the points before each point. That is the band of Skyline's
// stddev_from_moving_average, one of the ensemble's detectors; Kale's detector does not judge
// by it (it scores new patterns, daily seasonality and flat runs) and reports its own
// expected range with each anomaly (Explanation), which the pages show beside the chart.
func bandLegend(detector string) string {
	switch detector {
	case "kale":
		return "moving average ± 3σ, a guide only: Kale's detector judges new patterns, daily seasonality and flat runs, and reports its own expected range with each anomaly"
	case "skyline":
		return "expected band: moving average ± 3σ of the points before (Skyline's stddev_from_moving_average, one of the ensemble's detectors)"
	}
	return "moving average ± 3σ of the points before"
}
