package listener

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
)

// conn is one served TCP connection. Every read refreshes its idle deadline and records the
// time bytes last arrived; the eviction at --max-conns and the in-flight budget read that
// record to tell an idle or stalled sender from one making progress.
type conn struct {
	net.Conn
	t      *TCP
	remote addr

	last    atomic.Int64 // unix nanoseconds of the last read that returned bytes (accept time at first)
	state   atomic.Int32 // connIdle, connInPayload or connBusy
	evicted atomic.Bool
	held    int // bytes charged to the budget; guarded by the budget's mutex
}

// Connection states.
const (
	connIdle      int32 = iota // between payloads, waiting for the next one
	connInPayload              // inside a partly received frame or line, reading it
	connWaiting                // inside a partly received payload, waiting for budget for more
	connBusy                   // decoding a complete payload or handing it over to the sink
)

func newConn(t *TCP, nc net.Conn) *conn {
	c := &conn{Conn: nc, t: t, remote: addr(nc.RemoteAddr().String())}
	c.last.Store(time.Now().UnixNano())
	return c
}

// Read reads with a deadline of --tcp-idle-timeout from now, or the drain deadline once the
// listener is stopping, whichever is set last (see TCP.stop for why this order is safe).
func (c *conn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.t.IdleTimeout))
	if at := c.t.stopAt.Load(); at != 0 {
		_ = c.Conn.SetReadDeadline(time.Unix(0, at))
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// stalled reports whether c sits in a read inside a partial payload with no bytes for at
// least after: its sender stopped.
func (c *conn) stalled(now time.Time, after time.Duration) bool {
	return c.state.Load() == connInPayload && now.UnixNano()-c.last.Load() >= int64(after)
}

// starved reports whether c has waited for budget, inside a partial payload, for at least after.
func (c *conn) starved(now time.Time, after time.Duration) bool {
	return c.state.Load() == connWaiting && now.UnixNano()-c.last.Load() >= int64(after)
}

// progressing reports whether c is busy with a complete payload or received bytes of a
// partial one within after.
func (c *conn) progressing(now time.Time, after time.Duration) bool {
	switch c.state.Load() {
	case connBusy:
		return true
	case connInPayload, connWaiting:
		return now.UnixNano()-c.last.Load() < int64(after)
	}
	return false
}

// evict closes c to free its slot or its budget, counts it as evicted on its listener and
// logs a sample; it reports false if c was already evicted. Its handler sees the closed
// connection, releases what it holds and exits.
func (c *conn) evict(why error) bool {
	if !c.evicted.CompareAndSwap(false, true) {
		return false
	}
	c.closeEvicted(why)
	return true
}

// closeEvicted closes, counts and logs a connection already marked evicted.
func (c *conn) closeEvicted(why error) {
	_ = c.Conn.Close()
	c.t.Proto.Reject(ingest.Evicted, 1)
	c.t.rl.log(c.t.Log, c.t.Proto.Name, c.remote, fmt.Errorf("connection evicted: %w", why), 1)
}

// victimLocked picks the connection to evict to make room: the one idle longest, skipping
// connections that are busy (decoding or waiting for the sink) or made progress inside a
// payload within the budget's stall interval. When every connection is such, it is the one
// with the oldest last read of all. t.mu is held.
func (t *TCP) victimLocked(now time.Time) *conn {
	var idlest, oldest *conn
	for c := range t.conns {
		if c.evicted.Load() {
			continue
		}
		last := c.last.Load()
		if !c.progressing(now, t.Budget.stallAfter) && (idlest == nil || last < idlest.last.Load()) {
			idlest = c
		}
		if oldest == nil || last < oldest.last.Load() {
			oldest = c
		}
	}
	if idlest != nil {
		return idlest
	}
	return oldest
}

// admit registers a new connection, evicting the connection idle longest when the listener
// is at --max-conns. It returns the new conn.
func (t *TCP) admit(nc net.Conn) *conn {
	c := newConn(t, nc)
	now := time.Now()
	t.mu.Lock()
	var victim *conn
	if t.MaxConns > 0 && len(t.conns) >= t.MaxConns {
		victim = t.victimLocked(now)
		delete(t.conns, victim)
	}
	t.conns[c] = struct{}{}
	t.mu.Unlock()
	if victim != nil {
		victim.evict(fmt.Errorf("--max-conns %d reached; closed the connection idle longest (%v) to admit %s",
			t.MaxConns, now.Sub(time.Unix(0, victim.last.Load())).Round(time.Millisecond), c.remote))
	}
	return c
}

// evictIdlest closes the connection idle longest to free a file descriptor; it reports
// whether one was found. Connections making progress are spared.
func (t *TCP) evictIdlest(why error) bool {
	now := time.Now()
	t.mu.Lock()
	victim := t.victimLocked(now)
	if victim != nil {
		if victim.progressing(now, t.Budget.stallAfter) {
			victim = nil
		} else {
			delete(t.conns, victim)
		}
	}
	t.mu.Unlock()
	return victim != nil && victim.evict(why)
}

// forget removes a finished connection.
func (t *TCP) forget(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}
