package statsd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
)

// BenchmarkIngest decodes and aggregates datagrams of 20 lines (counters, timers, gauges,
// sets over 200 keys), as a busy statsd client batches them.
func BenchmarkIngest(b *testing.B) {
	var dgrams [][]byte
	for d := range 10 {
		var sb strings.Builder
		for i := range 20 {
			k := d*20 + i
			switch k % 4 {
			case 0:
				fmt.Fprintf(&sb, "api.requests.%d:1|c|@0.5\n", k)
			case 1:
				fmt.Fprintf(&sb, "api.latency.%d:%d.%d|ms\n", k, k*3, k%10)
			case 2:
				fmt.Fprintf(&sb, "queue.depth.%d:+%d|g\n", k, k)
			default:
				fmt.Fprintf(&sb, "users.%d:u%d|s\n", k, k)
			}
		}
		dgrams = append(dgrams, []byte(sb.String()))
	}
	a, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	lim := ingest.DefaultLimits()
	b.ReportAllocs()
	b.SetBytes(int64(len(dgrams[0])))
	n, i := 0, 0
	for b.Loop() {
		added, err := a.Ingest(dgrams[i%len(dgrams)], lim)
		if err != nil {
			b.Fatal(err)
		}
		n += added
		i++
		if i%10_000 == 0 {
			a.Flush(time.Now())
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}
