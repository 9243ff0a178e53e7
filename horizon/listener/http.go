package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/kale-project/kale/horizon/telemetry"
)

// Defaults of the HTTP listener's timeouts.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = time.Minute
	defaultWriteTimeout      = time.Minute
)

// HTTP serves an http.Handler (horizon/ingesthttp's) on a TCP address. Decoding and counting
// are the handler's; the listener bounds the connections and the time a sender may take:
// at most MaxConns connections are open at once (further ones wait in the kernel's backlog,
// as the webapp's do), a request's headers must arrive within ReadHeaderTimeout and its body
// within ReadTimeout, and a keep-alive connection that sends nothing for IdleTimeout is
// closed. On stop it closes the listening socket and lets the requests in progress finish
// for DrainTimeout, so what they decoded reaches the writer before it stops.
type HTTP struct {
	Addr     string
	Protocol string // the listener's name (horizon/protocol.IngestHTTP): State and the gauges
	Handler  http.Handler
	Stats    *telemetry.Stats
	Log      *slog.Logger
	// MaxConns caps the open connections (0: no cap).
	MaxConns int
	// ReadHeaderTimeout (10s), ReadTimeout (1m), WriteTimeout (1m), IdleTimeout (2m) and
	// DrainTimeout (1s) default when 0.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	DrainTimeout      time.Duration

	ln    net.Listener
	srv   *http.Server
	mu    sync.Mutex
	state State
}

// Listen binds the address; see TCP.Listen.
func (h *HTTP) Listen() error {
	h.state = State{Protocol: h.Protocol, Addr: h.Addr}
	ln, err := net.Listen("tcp", h.Addr)
	if err != nil {
		h.state.Error = err.Error()
		h.Stats.Up.WithLabelValues(h.Protocol).Set(0)
		return fmt.Errorf("cannot listen on %s for %s: %w", h.Addr, h.Protocol, err)
	}
	h.state = State{Protocol: h.Protocol, Addr: ln.Addr().String(), Up: true}
	h.Stats.Up.WithLabelValues(h.Protocol).Set(1)
	if h.MaxConns > 0 {
		ln = netutil.LimitListener(ln, h.MaxConns)
	}
	h.ln = ln
	conns := h.Stats.Connections.WithLabelValues(h.Protocol)
	h.srv = &http.Server{
		Handler:           h.Handler,
		ReadHeaderTimeout: or(h.ReadHeaderTimeout, defaultReadHeaderTimeout),
		ReadTimeout:       or(h.ReadTimeout, defaultReadTimeout),
		WriteTimeout:      or(h.WriteTimeout, defaultWriteTimeout),
		IdleTimeout:       or(h.IdleTimeout, defaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(h.Log.Handler(), slog.LevelWarn),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				conns.Inc()
			case http.StateClosed, http.StateHijacked:
				conns.Dec()
			}
		},
	}
	return nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// BoundAddr is the bound address (useful with port 0).
func (h *HTTP) BoundAddr() string { return h.ln.Addr().String() }

// State reports whether the listener is serving.
func (h *HTTP) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// Run serves until ctx ends, then stops accepting, waits up to DrainTimeout for the requests
// in progress and closes what is left.
func (h *HTTP) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(h.ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), or(h.DrainTimeout, defaultDrainTimeout))
		if e := h.srv.Shutdown(sctx); e != nil {
			h.Log.Warn("requests still in progress at the end of the drain were cut off", "protocol", h.Protocol, "err", e)
			_ = h.srv.Close()
		}
		cancel()
		if e := <-served; !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	case e := <-served:
		err = fmt.Errorf("cannot serve %s on %s: %w", h.Protocol, h.Addr, e)
	}
	h.mu.Lock()
	h.state.Up = false
	h.mu.Unlock()
	h.Stats.Up.WithLabelValues(h.Protocol).Set(0)
	return err
}
