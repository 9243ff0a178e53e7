package promwrite

import (
	"fmt"
	"testing"

	"github.com/prometheus/prometheus/prompb"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes a request shaped like Prometheus's default batch: 2000 samples,
// one per series, each with a name and four labels.
func BenchmarkDecode(b *testing.B) {
	var ss []prompb.TimeSeries
	for i := range 2000 {
		ss = append(ss, series([]string{
			"__name__", fmt.Sprintf("node_metric_%d", i%50), "instance", fmt.Sprintf("host-%02d:9100", i%40),
			"job", "node", "cpu", fmt.Sprint(i % 8), "mode", "idle",
		}, prompb.Sample{Value: float64(i) * 1.5, Timestamp: 1700000000123 + int64(i)}))
	}
	payload := body(b, ss...)
	lim := ingest.DefaultLimits()
	n := 0
	emit := func(metric.Point) { n++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := Decode(payload, lim, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
}
