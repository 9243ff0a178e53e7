package writer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// BenchmarkWriter measures datapoints/s from Put to acknowledged Redis appends (real
// redis-server on this machine), 10,000 metrics, batches of 500 points as a pickle frame has,
// with the known-name set on as --max-new-metrics-per-minute's default has it.
func BenchmarkWriter(b *testing.B) {
	srv := redistest.Start(b)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	stats := telemetry.New(nil)
	w := New(Config{QueueSize: 2_000_000, FlushInterval: 250 * time.Millisecond, FlushPoints: 100_000,
		MaxResolution: time.Hour, MaxNewPerMinute: 100_000, FullNamespace: "metrics.", MiniNamespace: "mini."},
		store, stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	proto := stats.Proto(protocol.PickleTCP)
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("bench.host%03d.metric%02d", i/100, i%100)
	}
	now := time.Now().Unix()
	const batch = 500
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for i := 0; sent < b.N; i++ {
		pts := make([]metric.Point, batch)
		for j := range pts {
			k := i*batch + j
			pts[j] = metric.Point{Name: names[k%len(names)], Timestamp: metric.Int(now + int64(k/len(names))), Value: metric.Float(float64(k))}
		}
		if err := w.Put(ctx, proto, pts, true); err != nil {
			b.Fatal(err)
		}
		sent += batch
	}
	for w.Buffered() > 0 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "datapoints/s")
	cancel()
	<-done
}
