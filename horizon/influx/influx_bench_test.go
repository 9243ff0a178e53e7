package influx

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes 500 Telegraf-like lines (3 tags, 4 numeric fields each).
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, "cpu,host=host-%02d,cpu=cpu%d,dc=eu-%d usage_user=%d.5,usage_system=%di,usage_idle=%d.25,online=true %d\n",
			i%16, i%8, i%3, i%100, i, 90-i%90, 1700000000000000000+int64(i)*1e9)
	}
	payload := []byte(sb.String())
	lim := ingest.DefaultLimits()
	n := 0
	emit := func(metric.Point) { n++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := Decode(payload, lim, Options{}, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
}
