package analyzer

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
	"github.com/kale-project/kale/utils/tools/procstat"
)

// BenchmarkCycle measures one full analyzer cycle, Redis reads included, over
// KALE_BENCH_METRICS metrics (default 100,000) of 1,440 points (a day at 60 s) in a real
// redis-server: the speed bar is <= 12 s per cycle on 2 cores. Loading the data takes
// a while and about 3 GB of Redis memory.
func BenchmarkCycle(b *testing.B) {
	n := benchMetrics(b, 100_000)
	store := loadBench(b, n)
	ctx := context.Background()
	a, _ := newAnalyzer(b, store, func(c *Config) { c.Workers = 2 })
	b.ResetTimer()
	var st CycleStats
	var err error
	for b.Loop() {
		st, err = a.Cycle(ctx)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st.Metrics != n || st.Analysed+sum(st.Exceptions) != n {
		b.Fatalf("cycle saw %d metrics, analysed %d, exceptions %v", st.Metrics, st.Analysed, st.Exceptions)
	}
	b.ReportMetric(st.DurationS, "s/cycle")
	b.ReportMetric(float64(n)/st.DurationS, "metrics/s")
	b.ReportMetric(float64(st.Anomalies), "anomalies")
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// BenchmarkCycleKale measures a steady-state cycle of the kale detector over
// KALE_BENCH_METRICS metrics (default 20,000) of 1,440 points, Redis reads included: each
// cycle appends one new point per metric, and the detector is fed only that point (read as
// the series' tail). The cold cycle (a fresh detector per metric learning from the newest
// ColdRows rows, as on a first start; KALE_BENCH_COLD_ROWS changes it) is timed separately
// and reported as warm-up-s, with its CPU time as warm-up-cpu-s.
func BenchmarkCycleKale(b *testing.B) {
	n := benchMetrics(b, 20_000)
	store := loadBench(b, n)
	clock := now
	a, _ := newAnalyzer(b, store, func(c *Config) {
		c.Workers = 2
		c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
		c.Now = func() time.Time { return clock }
		if s := os.Getenv("KALE_BENCH_COLD_ROWS"); s != "" { // -1: learn from every row
			c.ColdRows, _ = strconv.Atoi(s)
		}
	})
	ctx := context.Background()
	t0, c0 := time.Now(), cpuSeconds()
	if _, err := a.Cycle(ctx); err != nil {
		b.Fatal(err)
	}
	warm, warmCPU := time.Since(t0), cpuSeconds()-c0
	keys, err := store.Members(ctx, "metrics.")
	if err != nil {
		b.Fatal(err)
	}
	e := redisstore.NewEncoder()
	var st CycleStats
	var cpu float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		clock = clock.Add(time.Minute)
		batch := make(map[string][]byte, len(keys))
		for j, k := range keys {
			batch[k] = e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(float64(100+j%13)))
		}
		if err := store.Append(ctx, batch, nil).Err; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c := cpuSeconds()
		st, err = a.Cycle(ctx)
		cpu = cpuSeconds() - c
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st.Analysed != n {
		b.Fatalf("analysed %d of %d metrics, exceptions %v", st.Analysed, n, st.Exceptions)
	}
	b.ReportMetric(st.DurationS, "s/cycle")
	b.ReportMetric(warm.Seconds(), "warm-up-s")
	b.ReportMetric(warmCPU, "warm-up-cpu-s")
	b.ReportMetric(cpu, "cpu-s/cycle")
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

func benchMetrics(b *testing.B, def int) int {
	if s := os.Getenv("KALE_BENCH_METRICS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("KALE_BENCH_METRICS=%q: %v", s, err)
		}
		return v
	}
	return def
}

// loadBench stores n metrics of 1,440 points (a day at 60 s) ending at now in a fresh
// redis-server; 1 in 50 ends with a spike.
func loadBench(b *testing.B, n int) *redisstore.Store {
	b.Helper()
	srv := redistest.Start(b)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	e := redisstore.NewEncoder()
	end := now.Unix()
	const points = 1440
	batch := map[string][]byte{}
	for m := range n {
		var raw []byte
		phase := float64(m%97) / 97
		for i := range points {
			v := 100 + 20*math.Sin(2*math.Pi*(float64(i)/points+phase)) + float64((m*31+i*17)%13)
			if m%50 == 0 && i == points-1 {
				v += 400 // a few anomalies
			}
			raw = e.AppendPair(raw, metric.Int(end-int64(points-1-i)*60), metric.Float(math.Round(v*100)/100))
		}
		batch[fmt.Sprintf("metrics.bench.host%04d.m%02d", m/100, m%100)] = raw
		if len(batch) == 500 || m == n-1 {
			if err := store.Append(ctx, batch, nil).Err; err != nil {
				b.Fatal(err)
			}
			batch = map[string][]byte{}
		}
	}
	return store
}

// cpuSeconds is the user and system CPU time this process has used (redis-server, a child,
// is not counted): on a shared machine it varies less than the wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSSMB is this process's peak resident set (VmHWM), data loading included; the
// redis-server child is not counted.
func peakRSSMB() float64 {
	_, peak, _ := procstat.Memory(procstat.Self)
	return peak
}
