package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/writer"
)

// maxDatagram is the largest UDP payload (65,507 bytes over IPv4) rounded up.
const maxDatagram = 64 << 10

// UDP is a UDP listener: one payload per datagram, never blocking on the writer.
type UDP struct {
	Config
	// Readers is the number of goroutines reading the socket (2 by default).
	Readers int
	// ReadBuffer is the kernel receive buffer to request (0 keeps the system default).
	ReadBuffer int

	conn  *net.UDPConn
	rl    rejectLog
	mu    sync.Mutex
	state State
}

// Listen binds the address; see TCP.Listen.
func (u *UDP) Listen() error {
	u.defaults()
	u.rl.every = u.LogEvery
	u.state = State{Protocol: u.Proto.Name, Addr: u.Addr}
	addr, err := net.ResolveUDPAddr("udp", u.Addr)
	if err != nil {
		u.state.Error = err.Error()
		return fmt.Errorf("cannot resolve %s for %s: %w", u.Addr, u.Proto.Name, err)
	}
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		u.state.Error = err.Error()
		u.Stats.Up.WithLabelValues(u.Proto.Name).Set(0)
		return fmt.Errorf("cannot listen on %s for %s: %w", u.Addr, u.Proto.Name, err)
	}
	if u.ReadBuffer > 0 {
		_ = c.SetReadBuffer(u.ReadBuffer) // best effort: the kernel caps it at rmem_max
	}
	u.conn = c
	u.state.Addr, u.state.Up = c.LocalAddr().String(), true
	u.Stats.Up.WithLabelValues(u.Proto.Name).Set(1)
	return nil
}

// BoundAddr is the bound address (useful with port 0).
func (u *UDP) BoundAddr() string { return u.conn.LocalAddr().String() }

// State reports whether the listener is serving.
func (u *UDP) State() State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// Run reads datagrams until ctx ends.
func (u *UDP) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = u.conn.Close() })
	defer stop()
	readers := max(u.Readers, 1)
	errs := make(chan error, readers)
	for range readers {
		go func() { errs <- u.read(ctx) }()
	}
	var err error
	for range readers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	_ = u.conn.Close()
	u.mu.Lock()
	u.state.Up = false
	u.mu.Unlock()
	u.Stats.Up.WithLabelValues(u.Proto.Name).Set(0)
	return err
}

func (u *UDP) read(ctx context.Context) error {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("cannot read from %s: %w", u.Addr, err)
		}
		if n > u.Limits.MaxPayload {
			u.Proto.Reject(ingest.TooLarge, 1)
			u.rl.log(u.Log, u.Proto.Name, from, fmt.Errorf("datagram of %d bytes exceeds --max-frame %d", n, u.Limits.MaxPayload), 1)
			continue
		}
		pts := u.decodeBatch(buf[:n], nil, &u.rl, from)
		if len(pts) == 0 {
			continue
		}
		if err := u.Sink.Put(ctx, u.Proto, pts, false); errors.Is(err, writer.ErrFull) {
			u.Proto.Reject(ingest.QueueFull, len(pts))
			u.rl.log(u.Log, u.Proto.Name, from, err, len(pts))
		}
	}
}
