package alert

import (
	"context"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redistest"
)

// graphiteListener accepts connections on 127.0.0.1:0 and sends what each one wrote.
func graphiteListener(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			_ = c.Close()
			ch <- string(b)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String(), ch
}

func TestGraphiteSend(t *testing.T) {
	addr, got := graphiteListener(t)
	g := &Graphite{Addr: addr}
	ts := time.Unix(1700000000, 0)
	require.NoError(t, g.Send(context.Background(), map[string]float64{
		MetricRunTime:       1.5,
		MetricTotalAnalyzed: 98765,
		MetricDuration:      23.99972222,
		MetricProjected:     0.75,
	}, ts))
	require.Equal(t, "skyline.analyzer.duration 23.99972222 1700000000\n"+
		"skyline.analyzer.projected 0.75 1700000000\n"+
		"skyline.analyzer.run_time 1.50 1700000000\n"+
		"skyline.analyzer.total_analyzed 98765 1700000000\n", <-got)

	// Bad names and non-finite values are left out and reported; the rest is sent.
	err := g.Send(context.Background(), map[string]float64{
		MetricRunTime: 0.004, MetricProjected: math.Inf(1), "bad name": 1, "bad\nname": 2,
	}, ts)
	require.ErrorContains(t, err, "skyline.analyzer.projected")
	require.ErrorContains(t, err, `"bad name"`)
	require.Equal(t, "skyline.analyzer.run_time 0.00 1700000000\n", <-got)

	require.NoError(t, (&Graphite{}).Send(context.Background(), map[string]float64{"a": 1}, ts), "no address: disabled")
}

func TestGraphiteUnreachable(t *testing.T) {
	g := &Graphite{Addr: redistest.FreePort(t, "tcp"), Timeout: 500 * time.Millisecond}
	t0 := time.Now()
	err := g.Send(context.Background(), map[string]float64{MetricRunTime: 1}, time.Now())
	require.ErrorContains(t, err, "cannot connect to Graphite")
	require.Less(t, time.Since(t0), time.Second)

	// A cancelled context is honoured at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, (&Graphite{Addr: "127.0.0.1:9"}).Send(ctx, map[string]float64{"a": 1}, time.Now()))
}
