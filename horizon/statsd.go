package horizon

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/horizon/statsd"
	"github.com/kale-project/kale/horizon/writer"
	"github.com/kale-project/kale/utils/metric"
)

// statsdListener is the statsd-udp listener: a UDP listener whose decoder adds each datagram
// to an aggregator (Etsy statsd's semantics), and a loop that flushes the aggregate into the
// writer every interval, once more when it stops.
type statsdListener struct {
	*listener.UDP
	agg     *statsd.Aggregator
	w       *writer.Writer
	every   time.Duration
	timeout time.Duration // the final flush's wait for room in the writer
	log     *slog.Logger
	held    []metric.Point // a flush the writer did not take before the stop: retried at the final flush
}

// newStatsd builds the listener; base is the UDP listener's config (Decode is set here).
func newStatsd(base listener.Config, c Config, w *writer.Writer, readBuffer int) (*statsdListener, error) {
	agg, err := statsd.New(statsd.Config{Interval: c.StatsdFlush})
	if err != nil {
		return nil, err
	}
	proto := base.Proto
	base.Decode = func(b []byte, lim ingest.Limits, _ func(metric.Point)) error {
		added, err := agg.Ingest(b, lim)
		proto.Received.Add(float64(added))
		return err
	}
	return &statsdListener{
		UDP: &listener.UDP{Config: base, Readers: 2, ReadBuffer: readBuffer},
		agg: agg, w: w, every: c.StatsdFlush, timeout: max(c.ShutdownTimeout, time.Second), log: base.Log,
	}, nil
}

// Run reads datagrams and flushes every interval until ctx ends; then, once the socket is
// closed (nothing more can arrive), it flushes what the last partial interval aggregated.
// The writer must still be running then: horizon stops it after its listeners.
func (s *statsdListener) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.UDP.Run(ctx) }()
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			s.flush(ctx, now)
		case err := <-done:
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
			defer cancel()
			s.flush(fctx, time.Now())
			if n := len(s.held); n > 0 {
				s.Proto.Reject(ingest.QueueFull, n)
				s.log.Error("statsd: the final flush found the writer full; its points are lost (counted queue_full)",
					"points", n, "waited", s.timeout)
			}
			return err
		}
	}
}

// flush hands the interval's points (and any held from a flush cut short) to the writer,
// waiting for room as a TCP listener does; the points are held if ctx ends first.
func (s *statsdListener) flush(ctx context.Context, now time.Time) {
	pts := append(s.held, s.agg.Flush(now)...)
	s.held = nil
	if len(pts) == 0 {
		return
	}
	if err := s.w.Put(ctx, s.Proto, pts, true); err != nil {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("statsd: cannot hand the flush to the writer", "err", err)
		}
		s.held = pts
	}
}
