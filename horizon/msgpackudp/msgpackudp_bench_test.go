package msgpackudp

import (
	"fmt"
	"testing"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes a single Skyline datagram and a batch of 50 items, names and
// numbers shaped like a carbon agent's self-metrics.
func BenchmarkDecode(b *testing.B) {
	batch := make([]any, 50)
	for i := range batch {
		batch[i] = item(fmt.Sprintf("carbon.agents.host-%02d.cache.metric_%03d", i%16, i), 1700000000+i*10, float64(i)*37.5)
	}
	for _, bc := range []struct {
		name    string
		payload []byte
	}{
		{"single", mp(b, item("carbon.agents.host-01.cache.size", 1700000000, 12345.5))},
		{"batch50", mp(b, batch)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lim := ingest.DefaultLimits()
			n := 0
			emit := func(metric.Point) { n++ }
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.payload)))
			for b.Loop() {
				if err := Decode(bc.payload, lim, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
