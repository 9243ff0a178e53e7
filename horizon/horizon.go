// Package horizon is Kale's ingestion service: listeners for carbon pickle (TCP and UDP),
// Skyline msgpack (UDP), Graphite plaintext (TCP and UDP), HTTP ingest (Prometheus
// remote_write and the InfluxDB line protocol) and StatsD (UDP, aggregated and flushed every
// --statsd-flush) decode datapoints, a bounded writer normalises Graphite 1.1 tagged names and
// appends them to Redis in Skyline's layout, and Roomba trims the stored series. It replaces
// Skyline's horizon-agent.py with its listen.py, worker.py and roomba.py.
package horizon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/horizon/msgpackudp"
	"github.com/kale-project/kale/horizon/pickle"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/roomba"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/horizon/writer"
	"github.com/kale-project/kale/utils/redisstore"
)

// Options wire a Service.
type Options struct {
	Config   Config
	Store    *redisstore.Store
	Registry prometheus.Registerer
	Log      *slog.Logger
}

type runner interface {
	Run(ctx context.Context) error
	State() listener.State
}

// Service is a running horizon.
type Service struct {
	cfg       Config
	log       *slog.Logger
	stats     *telemetry.Stats
	writer    *writer.Writer
	roomba    *roomba.Roomba
	mu        sync.Mutex
	listeners []runner
	down      []listener.State // listeners that could not bind
}

// New builds the service and binds its listeners.
func New(o Options) (*Service, error) {
	c := o.Config
	if err := c.Validate(); err != nil {
		return nil, err
	}
	stats := telemetry.New(o.Registry)
	s := &Service{cfg: c, log: o.Log, stats: stats}
	s.writer = writer.New(writer.Config{
		QueueSize: c.QueueSize, FlushInterval: c.FlushInterval, FlushPoints: c.FlushPoints,
		MaxResolution: c.MaxResolution, SkipList: c.SkipList,
		FullNamespace: c.FullNamespace, MiniNamespace: c.MiniNamespace, Mini: c.Mini,
		MaxFuture: c.MaxFuture, MaxMetrics: c.MaxMetrics, MaxNewPerMinute: c.MaxNewMetricsPerMinute,
		ShutdownTimeout: c.ShutdownTimeout, ForgetAfter: c.FullDuration + c.RoombaGraceTime,
	}, o.Store, stats, o.Log.With("component", "writer"))
	if c.Roomba {
		ns := []roomba.Namespace{{Prefix: c.FullNamespace, Duration: c.FullDuration}}
		if c.Mini {
			ns = append(ns, roomba.Namespace{Prefix: c.MiniNamespace, Duration: c.MiniDuration})
		}
		s.roomba = roomba.New(roomba.Config{Namespaces: ns, Grace: c.RoombaGraceTime, Interval: c.RoombaInterval, MaxFuture: c.MaxFuture},
			o.Store, stats, o.Log.With("component", "roomba"))
	}
	lim := ingest.Limits{MaxNameLen: c.MaxNameLength, MaxItems: c.MaxItems, MaxPayload: c.MaxFrame}
	// One in-flight budget for every TCP connection of every listener.
	budget := listener.NewBudget(c.MaxInflightBytes, stats.Inflight)
	tcp := func(base listener.Config, f listener.Framing) *listener.TCP {
		return &listener.TCP{Config: base, Framing: f, MaxConns: c.MaxConns, IdleTimeout: c.TCPIdleTimeout,
			DrainTimeout: max(min(time.Second, c.ShutdownTimeout), time.Millisecond), Budget: budget}
	}
	for _, l := range c.Listeners {
		if l.Addr == "" {
			continue
		}
		base := listener.Config{
			Addr: l.Addr, Limits: lim, Sink: s.writer, Stats: stats,
			Log: o.Log.With("component", "listener", "protocol", l.Protocol),
		}
		if l.Protocol != protocol.IngestHTTP { // its points are counted per format
			base.Proto = stats.Proto(l.Protocol)
		}
		var r runner
		var err error
		switch l.Protocol {
		case protocol.PickleTCP:
			base.Decode = pickle.Decode
			t := tcp(base, listener.LengthPrefixed)
			err, r = t.Listen(), t
		case protocol.PlaintextTCP:
			base.Decode = plaintext.Decode
			t := tcp(base, listener.Lines)
			err, r = t.Listen(), t
		case protocol.IngestHTTP:
			h := s.httpListener(l.Addr, lim, stats, base.Log)
			err, r = h.Listen(), h
		case protocol.StatsdUDP:
			base.Limits.MaxPayload = min(base.Limits.MaxPayload, 65536)
			sd, serr := newStatsd(base, c, s.writer, c.UDPReadBuffer)
			if serr != nil {
				s.closeListeners()
				return nil, fmt.Errorf("cannot configure horizon: %w", serr)
			}
			err, r = sd.Listen(), sd
		case protocol.PickleUDP, protocol.MsgpackUDP, protocol.PlaintextUDP:
			base.Decode = map[string]listener.Decoder{
				protocol.PickleUDP: pickle.Decode, protocol.MsgpackUDP: msgpackudp.Decode, protocol.PlaintextUDP: plaintext.Decode,
			}[l.Protocol]
			if base.Limits.MaxPayload > 65536 {
				base.Limits.MaxPayload = 65536
			}
			u := &listener.UDP{Config: base, Readers: 2, ReadBuffer: c.UDPReadBuffer}
			err, r = u.Listen(), u
		}
		if err != nil {
			if l.Explicit {
				s.closeListeners()
				return nil, fmt.Errorf("%w (set with --%s; choose a free address or an empty string to disable it)", err, l.Protocol)
			}
			env := ""
			if l.Env != "" {
				env = " (env " + l.Env + ")"
			}
			o.Log.Error("listener is DOWN: its default address cannot be bound; the rest of horizon runs",
				"protocol", l.Protocol, "addr", l.Addr, "err", err,
				"fix", fmt.Sprintf("set --%s%s to a free address, or to an empty string to disable it", l.Protocol, env))
			s.down = append(s.down, r.State())
			continue
		}
		o.Log.Info("listening", "protocol", l.Protocol, "addr", r.State().Addr)
		s.listeners = append(s.listeners, r)
	}
	return s, nil
}

// closeListeners releases sockets bound before a fatal error in New.
func (s *Service) closeListeners() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, l := range s.listeners {
		_ = l.Run(ctx)
	}
}

// Listeners reports every configured listener, up or down.
func (s *Service) Listeners() []listener.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]listener.State, 0, len(s.listeners)+len(s.down))
	for _, l := range s.listeners {
		out = append(out, l.State())
	}
	return append(out, s.down...)
}

// Addr returns the bound address of a listener by protocol ("" if not running).
func (s *Service) Addr(protocol string) string {
	for _, st := range s.Listeners() {
		if st.Protocol == protocol && st.Up {
			return st.Addr
		}
	}
	return ""
}

// Buffered is the number of datapoints accepted and not yet in Redis.
func (s *Service) Buffered() int { return s.writer.Buffered() }

// Run serves until ctx ends, then stops the listeners (which drain what their connections had
// already sent into the writer; HTTP ingest finishes the requests in progress; StatsD makes
// its final flush), stops the writer (which delivers or reports what it holds
// within --shutdown-timeout) and returns.
func (s *Service) Run(ctx context.Context) error {
	wctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	werr := make(chan error, 1)
	go func() { werr <- s.writer.Run(wctx) }()

	g, gctx := errgroup.WithContext(ctx)
	for _, l := range s.listeners {
		g.Go(func() error { return l.Run(gctx) })
	}
	if s.roomba != nil {
		g.Go(func() error { return s.roomba.Run(gctx) })
	}
	err := g.Wait()
	start := time.Now()
	buffered := s.writer.Buffered()
	stopWriter()
	if e := <-werr; e != nil {
		err = errors.Join(err, e)
	}
	// The writer logs whether it delivered or lost what it held; this line claims neither.
	s.log.Info("horizon stopped", "buffered_at_stop", buffered, "seconds", time.Since(start).Seconds())
	return err
}
