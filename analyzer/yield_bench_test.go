package analyzer

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/priority"
)

// BenchmarkForegroundDuringCycle measures what Config.Yield buys interactive work in the same
// process: a foreground task (≈ 20 ms of CPU on one goroutine, standing in for a search) runs
// over and over while kale cycles over KALE_BENCH_METRICS metrics (default 5,000; cold cycles,
// the heaviest) run back to back on 2 workers; it reports the task's p50 and p99 latency with
// the analyzer waiting on a priority.Gate the task holds ("gate"), without ("none"), and with
// no cycle running ("idle", the baseline).
func BenchmarkForegroundDuringCycle(b *testing.B) {
	n := benchMetrics(b, 5_000)
	store := loadBench(b, n)
	task := func() float64 { // ≈ 20 ms of arithmetic
		x := 0.0
		for i := range 4_000_000 {
			x += math.Sqrt(float64(i))
		}
		return x
	}
	for _, mode := range []string{"idle", "none", "gate"} {
		b.Run(mode, func(b *testing.B) {
			gate := &priority.Gate{}
			a, _ := newAnalyzer(b, store, func(c *Config) {
				c.Workers = 2
				c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
				if mode == "gate" {
					c.Yield = gate
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				for mode != "idle" && ctx.Err() == nil {
					a.states = newKaleStates() // every cycle a cold one
					_, _ = a.Cycle(ctx)
				}
			})
			time.Sleep(200 * time.Millisecond)
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				leave := gate.Enter()
				task()
				leave()
				lat = append(lat, time.Since(t0))
			}
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
