package horizon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingesthttp"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/horizon/writer"
	"github.com/kale-project/kale/utils/metric"
)

// httpProtos are the counters of the HTTP ingest formats, by horizon/protocol label.
type httpProtos map[string]*telemetry.Proto

// Received and Rejected make httpProtos the handler's ingesthttp.Counter.
func (p httpProtos) Received(proto string, n int) { p[proto].Received.Add(float64(n)) }

func (p httpProtos) Rejected(proto string, r ingest.Reason, n int) { p[proto].Reject(r, n) }

// httpSink queues a request's points in the writer without waiting: when the writer is full
// the handler answers 429 with Retry-After, and the sender backs off and retries.
type httpSink struct {
	w      *writer.Writer
	protos httpProtos
}

func (s httpSink) Put(ctx context.Context, proto string, pts []metric.Point) error {
	err := s.w.Put(ctx, s.protos[proto], pts, false)
	if errors.Is(err, writer.ErrFull) {
		return fmt.Errorf("%w: %w", ingesthttp.ErrFull, err)
	}
	return err
}

// routes maps the write endpoints onto their format, to count requests as payloads.
var routes = map[string]string{
	"/api/v1/write": protocol.RemoteWrite, "/write": protocol.InfluxV1, "/api/v2/write": protocol.InfluxV2,
	"/v1/metrics": protocol.OTLP,
}

// httpListener builds the ingest-http listener: horizon/ingesthttp's handler, writing to the
// writer and counting under each format's label, served with the TCP listeners' limits.
func (s *Service) httpListener(addr string, lim ingest.Limits, stats *telemetry.Stats, log *slog.Logger) *listener.HTTP {
	c := s.cfg
	protos := httpProtos{}
	for _, p := range []string{protocol.RemoteWrite, protocol.InfluxV1, protocol.InfluxV2, protocol.OTLP} {
		protos[p] = stats.Proto(p)
	}
	h := ingesthttp.New(ingesthttp.Config{
		Token: c.IngestToken, MaxBody: c.MaxFrame, Limits: lim, Counter: protos, Logger: log,
	}, httpSink{w: s.writer, protos: protos})
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := routes[r.URL.Path]; ok && r.Method == http.MethodPost {
			protos[p].Payloads.Inc()
		}
		h.ServeHTTP(w, r)
	})
	return &listener.HTTP{
		Addr: addr, Protocol: protocol.IngestHTTP, Handler: counted, Stats: stats, Log: log,
		MaxConns: c.MaxConns, IdleTimeout: c.TCPIdleTimeout,
		DrainTimeout: max(min(5*time.Second, c.ShutdownTimeout), time.Millisecond),
	}
}
