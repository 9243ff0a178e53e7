package listener

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/kale-project/kale/horizon/ingest"
)

// chunkSize is the unit in which frame bodies are read and charged to the budget.
const chunkSize = 64 << 10

// chunks recycles the buffers frame bodies are read into.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// serveFrames reads carbon pickle frames. A clean EOF between frames is a normal disconnect;
// a frame over the limit or cut short is counted and closes the connection, since the stream
// cannot be resynchronised.
func (t *TCP) serveFrames(ctx context.Context, c *conn) error {
	var hdr [4]byte
	for {
		c.state.Store(connIdle)
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && !c.evicted.Load() {
				t.Proto.Reject(ingest.Malformed, 1)
				return fmt.Errorf("connection closed inside a frame header: %w", err)
			}
			return nil // EOF, reset, idle or drain deadline, eviction: a disconnect, not bad input
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n > t.Limits.MaxPayload {
			t.Proto.Reject(ingest.TooLarge, 1)
			return fmt.Errorf("frame of %d bytes exceeds --max-frame %d; closing the connection", n, t.Limits.MaxPayload)
		}
		c.state.Store(connInPayload)
		body, done, err := t.readBody(ctx, c, n)
		if body == nil {
			return err
		}
		c.state.Store(connBusy)
		pts := t.decodeBatch(body, nil, &t.rl, c.remote)
		done()
		perr := t.Sink.Put(ctx, t.Proto, pts, true)
		t.Budget.release(c)
		if perr != nil {
			return nil // the sink's context ended: stopped
		}
	}
}

// readBody reads an n-byte frame body in chunks of at most chunkSize, charging the budget for
// each chunk before reading it: a frame's claimed length is never allocated up front, and a
// sender that stalls holds only what it sent. The body stays charged until the caller releases
// the budget; done returns pooled memory. A nil body means the connection is over, with err
// saying why if that was a problem (already counted).
func (t *TCP) readBody(ctx context.Context, c *conn, n int) (body []byte, done func(), err error) {
	var parts []*[]byte
	defer func() {
		if body == nil || len(parts) > 1 {
			for _, p := range parts {
				chunks.Put(p)
			}
		}
	}()
	var peek [512]byte
	for got := 0; got < n || len(parts) == 0; {
		k := min(chunkSize, n-got)
		// The first bytes of a chunk are read before the chunk is charged, so a connection
		// waiting for budget always has data pending, and a sender that stalls does so in a
		// read, where the budget can see it stalled, not in the wait.
		m, err := io.ReadAtLeast(c, peek[:min(len(peek), k)], min(1, k))
		if err == nil {
			if err = t.Budget.acquire(ctx, c, k); err != nil {
				return nil, nil, t.refuse(err, fmt.Sprintf("a %d-byte frame", n))
			}
			p := chunks.Get().(*[]byte)
			parts = append(parts, p)
			copy(*p, peek[:m])
			_, err = io.ReadFull(c, (*p)[m:k])
		}
		if err != nil {
			if c.evicted.Load() || t.stopping() {
				return nil, nil, nil
			}
			t.Proto.Reject(ingest.Malformed, 1)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, nil, fmt.Errorf("no data for --tcp-idle-timeout %v inside a %d-byte frame; closing the connection", t.IdleTimeout, n)
			}
			return nil, nil, fmt.Errorf("connection closed inside a %d-byte frame: %w", n, err)
		}
		got += k
	}
	if len(parts) == 1 {
		p := parts[0]
		return (*p)[:n], func() { chunks.Put(p) }, nil
	}
	body = make([]byte, n)
	for i, p := range parts {
		copy(body[i*chunkSize:], *p)
	}
	return body, func() {}, nil
}

// refuse turns a failed wait for budget into the handler's result: over budget is counted and
// closes the connection; a wait cut short by the stop ends it quietly.
func (t *TCP) refuse(err error, what string) error {
	if !errors.Is(err, errOverBudget) {
		return nil
	}
	t.Proto.Reject(ingest.OverBudget, 1)
	return fmt.Errorf("cannot receive %s: %w; closing the connection", what, err)
}

// Plaintext read buffers. Every connection has a small fixed buffer, bounded in total by
// --max-conns; a connection whose sender is busy, or whose partial line fills the buffer,
// grows it up to lineMax, and the growth is charged to the budget until it shrinks back.
const (
	maxLine  = 64 << 10    // lines up to this length are always accepted
	lineBase = 4 << 10     // every connection's fixed buffer
	lineMax  = 2 * maxLine // the largest buffer; a partial line filling it is dropped
)

// serveLines reads newline-terminated lines in chunks and decodes every complete line of a
// chunk in one call; a partial line waits for the next read.
func (t *TCP) serveLines(ctx context.Context, c *conn) error {
	buf := make([]byte, 0, lineBase)
	skipping := false // inside an over-long line, dropping bytes until its newline
	busy := false     // the last read filled the buffer: read more at once if budget allows
	for {
		next := min(2*cap(buf), lineMax)
		switch {
		case len(buf) == cap(buf) && cap(buf) == lineMax:
			// A line longer than the buffer: count it once and drop until its end.
			t.Proto.Reject(ingest.TooLarge, 1)
			t.rl.log(t.Log, t.Proto.Name, c.remote, fmt.Errorf("line longer than %d bytes", lineMax), 1)
			buf, skipping = buf[:0], true
		case len(buf) == cap(buf):
			if err := t.Budget.acquire(ctx, c, next-cap(buf)); err != nil {
				return t.refuse(err, "a long line")
			}
			buf = resize(buf, next)
		case busy && cap(buf) < lineMax && t.Budget.tryAcquire(c, next-cap(buf)):
			buf = resize(buf, next)
		}
		space := cap(buf) - len(buf)
		n, err := c.Read(buf[len(buf):cap(buf)])
		busy = n == space
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
			c.state.Store(connBusy)
			pts := t.decodeBatch(buf[:last+1], nil, &t.rl, c.remote)
			buf = buf[:copy(buf, buf[last+1:])]
			if perr := t.Sink.Put(ctx, t.Proto, pts, true); perr != nil {
				return nil // the sink's context ended: stopped
			}
		}
		if cap(buf) > lineBase && len(buf) <= lineBase/2 && n < lineBase {
			// The burst is over: back to the fixed buffer, and the growth is released.
			buf = resize(buf, lineBase)
			t.Budget.release(c)
		}
		if len(buf) > 0 {
			c.state.Store(connInPayload)
		} else {
			c.state.Store(connIdle)
		}
		if err != nil {
			if len(buf) > 0 && !skipping && errors.Is(err, io.EOF) {
				// A last line without its newline: Graphite accepts it.
				pts := t.decodeBatch(buf, nil, &t.rl, c.remote)
				_ = t.Sink.Put(ctx, t.Proto, pts, true)
			}
			return nil
		}
	}
}

// resize copies buf into a new buffer of capacity n (≥ len(buf)).
func resize(buf []byte, n int) []byte {
	nb := make([]byte, len(buf), n)
	copy(nb, buf)
	return nb
}
