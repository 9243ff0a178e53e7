package otlp

import (
	"fmt"
	"testing"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes a request shaped like an SDK's periodic export: one resource
// (service.name, host.name and SDK attributes), 50 metrics of 40 data points each (2000
// points), half gauges of doubles, half cumulative sums of ints, three attributes per point.
func BenchmarkDecode(b *testing.B) {
	res := []*commonv1.KeyValue{kv("service.name", "checkout"), kv("host.name", "web-01"),
		kv("telemetry.sdk.language", "go"), kv("telemetry.sdk.version", "1.38.0")}
	var ms []*metricsv1.Metric
	for i := range 50 {
		var dps []*metricsv1.NumberDataPoint
		for j := range 40 {
			attrs := []*commonv1.KeyValue{kv("http.route", fmt.Sprintf("/api/v%d", j%8)), kv("http.method", "GET"), kv("status", 200+j%5)}
			if i%2 == 0 {
				dps = append(dps, dpDouble(sec+uint64(j)*1e6, float64(j)*1.5, attrs...))
			} else {
				dps = append(dps, dpInt(sec, int64(j), attrs...))
			}
		}
		if i%2 == 0 {
			ms = append(ms, gauge(fmt.Sprintf("app.metric_%d", i), dps...))
		} else {
			ms = append(ms, sum(fmt.Sprintf("app.count_%d", i), true, dps...))
		}
	}
	payload := request(b, resource(res, ms...))
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
