package listener

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
)

func newHTTP(addr string, stats *telemetry.Stats, h http.Handler) *HTTP {
	return &HTTP{Addr: addr, Protocol: protocol.IngestHTTP, Handler: h, Stats: stats, MaxConns: 4,
		DrainTimeout: 2 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func runHTTP(t *testing.T, l *HTTP) (stop func()) {
	t.Helper()
	require.NoError(t, l.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() { cancel(); require.NoError(t, <-done) }
}

// Stopping and starting again on the same port works, repeatedly, and the gauges follow.
func TestHTTPRestartSamePort(t *testing.T) {
	stats := telemetry.New(nil)
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); w.WriteHeader(http.StatusNoContent) })
	addr := "127.0.0.1:0"
	for i := range 5 {
		l := newHTTP(addr, stats, h)
		stop := runHTTP(t, l)
		addr = l.BoundAddr()
		require.True(t, l.State().Up)
		require.Equal(t, 1.0, testutil.ToFloat64(stats.Up.WithLabelValues(protocol.IngestHTTP)))
		c := &http.Client{Transport: &http.Transport{}}
		resp, err := c.Post("http://"+addr+"/write", "text/plain", strings.NewReader("m v=1"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.EqualValues(t, i+1, hits.Load())
		stop() // with the client's keep-alive connection still open
		c.CloseIdleConnections()
		require.False(t, l.State().Up)
		require.Zero(t, testutil.ToFloat64(stats.Up.WithLabelValues(protocol.IngestHTTP)))
		// net/http reports a connection closed by Shutdown from the connection's goroutine.
		require.Eventually(t, func() bool { return testutil.ToFloat64(stats.Connections.WithLabelValues(protocol.IngestHTTP)) == 0 },
			time.Second, 5*time.Millisecond)
	}
}

// A request in progress when the stop begins is served to its end.
func TestHTTPDrainOnStop(t *testing.T) {
	stats := telemetry.New(nil)
	started, finished := make(chan struct{}), atomic.Bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		finished.Store(true)
		w.WriteHeader(http.StatusNoContent)
	})
	l := newHTTP("127.0.0.1:0", stats, h)
	stop := runHTTP(t, l)
	got := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+l.BoundAddr()+"/write", "text/plain", strings.NewReader("m v=1"))
		if err != nil {
			got <- 0
			return
		}
		_ = resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-started
	stop()
	require.True(t, finished.Load(), "Run returned before the request in progress ended")
	require.Equal(t, http.StatusNoContent, <-got)
	http.DefaultClient.CloseIdleConnections()
}

// Connections over MaxConns wait in the backlog; the slow sender of a header is cut off.
func TestHTTPLimits(t *testing.T) {
	stats := telemetry.New(nil)
	l := newHTTP("127.0.0.1:0", stats, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	l.MaxConns, l.ReadHeaderTimeout = 1, 100*time.Millisecond
	stop := runHTTP(t, l)
	defer stop()
	c, err := net.Dial("tcp", l.BoundAddr())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("POST /write HTTP/1.1\r\n")) // and never the rest
	require.NoError(t, err)
	require.Eventually(t, func() bool { return testutil.ToFloat64(stats.Connections.WithLabelValues(protocol.IngestHTTP)) == 1 },
		time.Second, 5*time.Millisecond)
	// The second client waits until the header timeout frees the only slot.
	start := time.Now()
	resp, err := http.Post("http://"+l.BoundAddr()+"/write", "text/plain", strings.NewReader("m v=1"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	http.DefaultClient.CloseIdleConnections()
}

func TestHTTPBindFailureIsReported(t *testing.T) {
	stats := telemetry.New(nil)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	l := newHTTP(busy.Addr().String(), stats, http.NotFoundHandler())
	require.ErrorContains(t, l.Listen(), "cannot listen on "+busy.Addr().String()+" for ingest-http")
	require.False(t, l.State().Up)
	require.NotEmpty(t, l.State().Error)
}
