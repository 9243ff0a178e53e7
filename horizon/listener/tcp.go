package listener

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
)

// Framing says how a TCP stream is cut into payloads.
type Framing int

// TCP framings.
const (
	LengthPrefixed Framing = iota // carbon pickle: uint32 big-endian length, then the payload
	Lines                         // Graphite plaintext: newline-terminated lines
)

// TCP is a TCP listener serving many concurrent connections.
type TCP struct {
	Config
	Framing  Framing
	MaxConns int

	ln    net.Listener
	rl    rejectLog
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	state State
}

// Listen binds the address. Bind errors are returned here, before Run, so the caller can
// decide whether a busy port is fatal.
func (t *TCP) Listen() error {
	t.defaults()
	t.rl.every = t.LogEvery
	t.state = State{Protocol: t.Proto.Name, Addr: t.Addr}
	ln, err := net.Listen("tcp", t.Addr)
	if err != nil {
		t.state.Error = err.Error()
		t.Stats.Up.WithLabelValues(t.Proto.Name).Set(0)
		return fmt.Errorf("cannot listen on %s for %s: %w", t.Addr, t.Proto.Name, err)
	}
	t.ln = ln
	t.conns = map[net.Conn]struct{}{}
	t.state.Addr, t.state.Up = ln.Addr().String(), true
	t.Stats.Up.WithLabelValues(t.Proto.Name).Set(1)
	return nil
}

// BoundAddr is the bound address (useful with port 0).
func (t *TCP) BoundAddr() string { return t.ln.Addr().String() }

// State reports whether the listener is serving.
func (t *TCP) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// Run accepts connections until ctx ends, then closes the listener and every connection and
// waits for their handlers. Payloads fully read before the stop are handed to the sink.
func (t *TCP) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		_ = t.ln.Close()
		t.mu.Lock()
		for c := range t.conns {
			_ = c.SetReadDeadline(time.Now())
		}
		t.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = t.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			err = fmt.Errorf("cannot accept on %s: %w", t.Addr, err)
			break
		}
		t.mu.Lock()
		if len(t.conns) >= t.MaxConns {
			t.mu.Unlock()
			t.Proto.Reject(ingest.TooLarge, 1)
			t.rl.log(t.Log, t.Proto.Name, c.RemoteAddr(), fmt.Errorf("connection limit %d reached", t.MaxConns), 1)
			_ = c.Close()
			continue
		}
		t.conns[c] = struct{}{}
		t.mu.Unlock()
		t.Stats.Connections.WithLabelValues(t.Proto.Name).Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.serve(ctx, c)
			t.mu.Lock()
			delete(t.conns, c)
			t.mu.Unlock()
			_ = c.Close()
			t.Stats.Connections.WithLabelValues(t.Proto.Name).Dec()
		}()
	}
	_ = t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	t.state.Up = false
	t.mu.Unlock()
	t.Stats.Up.WithLabelValues(t.Proto.Name).Set(0)
	wg.Wait()
	return err
}

func (t *TCP) serve(ctx context.Context, c net.Conn) {
	remote := addr(c.RemoteAddr().String())
	var err error
	if t.Framing == LengthPrefixed {
		err = t.serveFrames(ctx, c, remote)
	} else {
		err = t.serveLines(ctx, c, remote)
	}
	if err != nil && ctx.Err() == nil {
		t.rl.log(t.Log, t.Proto.Name, remote, err, 1)
	}
}

// serveFrames reads carbon pickle frames. A clean EOF between frames is a normal disconnect;
// a frame over the limit or cut short is counted and closes the connection, since the stream
// cannot be resynchronised.
func (t *TCP) serveFrames(ctx context.Context, c net.Conn, remote fmt.Stringer) error {
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				t.Proto.Reject(ingest.Malformed, 1)
				return fmt.Errorf("connection closed inside a frame header: %w", err)
			}
			return nil // reset by peer and the like: a disconnect, not bad input
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n > t.Limits.MaxPayload {
			t.Proto.Reject(ingest.TooLarge, 1)
			return fmt.Errorf("frame of %d bytes exceeds --max-frame %d; closing the connection", n, t.Limits.MaxPayload)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t.Proto.Reject(ingest.Malformed, 1)
			return fmt.Errorf("connection closed inside a %d-byte frame: %w", n, err)
		}
		pts := t.decodeBatch(buf, nil, &t.rl, remote)
		if err := t.Sink.Put(ctx, t.Proto, pts, true); err != nil {
			return nil // shutting down
		}
	}
}

// maxLine bounds one plaintext line; longer lines are counted and skipped.
const maxLine = 64 << 10

// serveLines reads newline-terminated lines in chunks and decodes every complete line of a
// chunk in one call; a partial line waits for the next read.
func (t *TCP) serveLines(ctx context.Context, c net.Conn, remote fmt.Stringer) error {
	buf := make([]byte, 0, 2*maxLine)
	skipping := false // inside an over-long line, dropping bytes until its newline
	for {
		if len(buf) == cap(buf) {
			// A line longer than the buffer: count it once and drop until its end.
			t.Proto.Reject(ingest.TooLarge, 1)
			t.rl.log(t.Log, t.Proto.Name, remote, fmt.Errorf("line longer than %d bytes", maxLine), 1)
			buf, skipping = buf[:0], true
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		chunk := buf[len(buf) : len(buf)+n]
		buf = buf[:len(buf)+n]
		if skipping {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				buf = buf[:0]
			} else {
				buf = append(buf[:0], chunk[i+1:]...)
				skipping = false
			}
		}
		if last := bytes.LastIndexByte(buf, '\n'); last >= 0 {
			pts := t.decodeBatch(buf[:last+1], nil, &t.rl, remote)
			rest := copy(buf, buf[last+1:])
			buf = buf[:rest]
			if perr := t.Sink.Put(ctx, t.Proto, pts, true); perr != nil {
				return nil
			}
		}
		if err != nil {
			if len(buf) > 0 && !skipping && ctx.Err() == nil && errors.Is(err, io.EOF) {
				// A last line without its newline: Graphite accepts it.
				pts := t.decodeBatch(buf, nil, &t.rl, remote)
				_ = t.Sink.Put(ctx, t.Proto, pts, true)
			}
			return nil
		}
	}
}
