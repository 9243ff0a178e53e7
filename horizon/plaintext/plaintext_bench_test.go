package plaintext

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes 500 lines shaped like a carbon agent's self-metrics.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, "carbon.agents.host-%02d.cache.metric_%03d %d.%d %d\n", i%16, i, i*37, i%10, 1700000000+i*10)
	}
	payload := []byte(sb.String())
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
