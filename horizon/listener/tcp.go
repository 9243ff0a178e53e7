package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Framing says how a TCP stream is cut into payloads.
type Framing int

// TCP framings.
const (
	LengthPrefixed Framing = iota // carbon pickle: uint32 big-endian length, then the payload
	Lines                         // Graphite plaintext: newline-terminated lines
)

// Defaults of the TCP listener's timeouts.
const (
	defaultIdleTimeout  = 2 * time.Minute
	defaultDrainTimeout = time.Second
	defaultBudget       = 64 << 20
)

// TCP is a TCP listener serving many concurrent connections.
//
// A connection that sends nothing for IdleTimeout is closed, inside a payload or between
// payloads. At MaxConns, a newcomer is admitted by closing the connection idle longest
// (counted as evicted), so idle connections cannot lock real senders out. Payload bytes are
// charged to Budget while they are held. Failed accepts (file descriptors exhausted) are
// counted, logged at most once per interval and retried with a growing delay; they never
// stop the listener.
type TCP struct {
	Config
	Framing  Framing
	MaxConns int
	// IdleTimeout closes a connection that sends nothing for this long (2m by default).
	IdleTimeout time.Duration
	// DrainTimeout is how long a stopping listener keeps reading what its connections had
	// already sent (1s by default); see Run.
	DrainTimeout time.Duration
	// Budget bounds the payload bytes held in memory; share one across listeners. Nil gets
	// a private budget of 64 MiB (or one frame if larger).
	Budget *Budget

	ln     net.Listener
	rl     rejectLog    // rejected input and evictions
	al     rejectLog    // failed accepts
	stopAt atomic.Int64 // unix nanoseconds of the drain deadline; 0 until stopping
	mu     sync.Mutex
	conns  map[*conn]struct{}
	state  State
}

// Listen binds the address. Bind errors are returned here, before Run, so the caller can
// decide whether a busy port is fatal.
func (t *TCP) Listen() error {
	t.state = State{Protocol: t.Proto.Name, Addr: t.Addr}
	ln, err := net.Listen("tcp", t.Addr)
	if err != nil {
		t.state.Error = err.Error()
		t.Stats.Up.WithLabelValues(t.Proto.Name).Set(0)
		return fmt.Errorf("cannot listen on %s for %s: %w", t.Addr, t.Proto.Name, err)
	}
	t.use(ln)
	return nil
}

// use prepares t to serve ln.
func (t *TCP) use(ln net.Listener) {
	t.defaults()
	if t.IdleTimeout <= 0 {
		t.IdleTimeout = defaultIdleTimeout
	}
	if t.DrainTimeout <= 0 {
		t.DrainTimeout = defaultDrainTimeout
	}
	if t.Budget == nil {
		t.Budget = NewBudget(max(defaultBudget, t.Limits.MaxPayload), t.Stats.Inflight)
	}
	t.rl.every, t.al.every = t.LogEvery, t.LogEvery
	t.ln = ln
	t.conns = map[*conn]struct{}{}
	t.state = State{Protocol: t.Proto.Name, Addr: ln.Addr().String(), Up: true}
	t.Stats.Up.WithLabelValues(t.Proto.Name).Set(1)
}

// BoundAddr is the bound address (useful with port 0).
func (t *TCP) BoundAddr() string { return t.ln.Addr().String() }

// State reports whether the listener is serving.
func (t *TCP) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// Run accepts connections until ctx ends; only ctx ends it. On stop it closes the listening
// socket, then lets every connection read for DrainTimeout more, so what senders had already
// written (in the kernel's buffers) is decoded and handed to the sink, and waits for the
// handlers. Handlers hand payloads over with a context that outlives ctx, ending
// 2×DrainTimeout after the stop, so the writer (stopped by the caller once Run returns)
// still receives them.
func (t *TCP) Run(ctx context.Context) error {
	sinkCtx, cancelSink := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSink()
	var once sync.Once
	var sinkTimer *time.Timer
	stop := func() {
		once.Do(func() {
			t.stop()
			sinkTimer = time.AfterFunc(2*t.DrainTimeout, cancelSink)
		})
	}
	defer context.AfterFunc(ctx, stop)()

	var wg sync.WaitGroup
	var delay time.Duration
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			delay = t.acceptFailed(err, delay)
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		c := t.admit(nc)
		t.Stats.Connections.WithLabelValues(t.Proto.Name).Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.serve(sinkCtx, c)
			t.Budget.release(c)
			t.forget(c)
			_ = c.Conn.Close()
			t.Stats.Connections.WithLabelValues(t.Proto.Name).Dec()
		}()
	}
	stop()
	t.mu.Lock()
	t.state.Up = false
	t.mu.Unlock()
	t.Stats.Up.WithLabelValues(t.Proto.Name).Set(0)
	wg.Wait()
	sinkTimer.Stop()
	return nil
}

// stop closes the listening socket and gives every connection until now+DrainTimeout to
// deliver what it already sent. conn.Read sets its idle deadline and then re-reads stopAt;
// stop stores stopAt before setting the connections' deadlines; so whichever runs last, a
// connection ends up with the drain deadline.
func (t *TCP) stop() {
	at := time.Now().Add(t.DrainTimeout)
	t.stopAt.Store(at.UnixNano())
	_ = t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		_ = c.Conn.SetReadDeadline(at)
	}
	t.mu.Unlock()
}

// stopping reports whether Run's context has ended.
func (t *TCP) stopping() bool { return t.stopAt.Load() != 0 }

// Delays between retries of a failed accept, as net/http's Server.Serve.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// acceptFailed counts and logs a failed accept and returns the delay before the next try,
// doubling the previous one from 5ms up to 1s. When file descriptors are exhausted it also
// closes the connection idle longest (counted as evicted), so that the pending newcomer can
// be accepted instead of waiting in the kernel's backlog.
func (t *TCP) acceptFailed(err error, delay time.Duration) time.Duration {
	delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
	t.Stats.AcceptErrors.WithLabelValues(t.Proto.Name).Inc()
	evicted := false
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		evicted = t.evictIdlest(fmt.Errorf("cannot accept on %s: %w; closed the connection idle longest to free a file descriptor", t.Addr, err))
	}
	t.al.warn(t.Log, "cannot accept a connection; retrying (counted in kale_horizon_accept_errors_total)", 1,
		"protocol", t.Proto.Name, "addr", t.Addr, "retry_in", delay, "evicted_idle_connection", evicted, "err", err)
	return delay
}

// serve reads one connection until it ends and logs why, if that was a problem.
func (t *TCP) serve(ctx context.Context, c *conn) {
	var err error
	if t.Framing == LengthPrefixed {
		err = t.serveFrames(ctx, c)
	} else {
		err = t.serveLines(ctx, c)
	}
	if err != nil && !c.evicted.Load() {
		t.rl.log(t.Log, t.Proto.Name, c.remote, err, 1)
	}
}
