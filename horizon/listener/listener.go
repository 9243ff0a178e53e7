// Package listener frames bytes from the network for horizon's pure decoders and hands the
// decoded datapoints to the writer. TCP listeners serve many concurrent connections and push
// back on senders when the writer is full; they close idle connections, evict the idlest one
// at --max-conns, charge payload bytes to one in-flight budget shared by every listener, and
// on stop drain what senders had already written. UDP listeners read one datagram at a time
// and count what they drop. Malformed input is counted by reason and logged at most once per interval;
// it never stops a listener. It replaces Skyline's listen.py, which served one TCP connection
// at a time, spun forever on a closed connection and died on one bad UDP packet.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
)

// Decoder is one wire format's pure decoder (horizon/pickle, msgpackudp, plaintext).
type Decoder func(b []byte, lim ingest.Limits, emit func(metric.Point)) error

// Sink receives decoded datapoints; *writer.Writer implements it.
type Sink interface {
	Put(ctx context.Context, proto *telemetry.Proto, pts []metric.Point, wait bool) error
}

// Config is what every listener needs.
type Config struct {
	Addr   string
	Decode Decoder
	Limits ingest.Limits
	Sink   Sink
	Proto  *telemetry.Proto
	Stats  *telemetry.Stats
	Log    *slog.Logger
	// LogEvery is the shortest interval between two "rejected input" log lines (10s default).
	LogEvery time.Duration
}

// State describes a listener for health checks and the status page.
type State struct {
	Protocol string `json:"protocol"`
	Addr     string `json:"addr"`
	Up       bool   `json:"up"`
	Error    string `json:"error,omitempty"`
}

// rejectLog counts rejections and logs a sample at most once per interval, so a flood of bad
// input costs counters, not log lines.
type rejectLog struct {
	mu      sync.Mutex
	every   time.Duration
	last    time.Time
	skipped int
}

func (r *rejectLog) log(l *slog.Logger, proto string, remote fmt.Stringer, err error, n int) {
	r.warn(l, "rejected input (counted in kale_horizon_rejected_total)", n,
		"protocol", proto, "remote", remote.String(), "rejected", n, "err", err)
}

// warn logs msg with args unless a line was logged less than the interval ago; n events are
// then added to the number reported as suppressed by the next line.
func (r *rejectLog) warn(l *slog.Logger, msg string, n int, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.last) < r.every {
		r.skipped += n
		return
	}
	l.Warn(msg, append(args, "suppressed_since_last_log", r.skipped)...)
	r.last = time.Now()
	r.skipped = 0
}

// decodeBatch decodes one payload into pts, counting what it received and rejected.
func (c *Config) decodeBatch(b []byte, pts []metric.Point, rl *rejectLog, remote fmt.Stringer) []metric.Point {
	c.Proto.Payloads.Inc()
	before := len(pts)
	err := c.Decode(b, c.Limits, func(p metric.Point) { pts = append(pts, p) })
	c.Proto.Received.Add(float64(len(pts) - before))
	if err != nil {
		n := ingest.Count(err, c.Proto.Reject)
		if onlyNotFinite(err) {
			// NaN values are what collectd sends for a counter's first sample: Graphite drops
			// them silently, so they are counted (not_finite) and logged at debug only.
			c.Log.Debug("rejected NaN or infinite values (counted in kale_horizon_rejected_total)",
				"protocol", c.Proto.Name, "remote", remote.String(), "rejected", n, "err", err)
			return pts
		}
		rl.log(c.Log, c.Proto.Name, remote, err, n)
	}
	return pts
}

// onlyNotFinite reports whether every rejection err carries is a NaN or infinite number.
func onlyNotFinite(err error) bool {
	var e *ingest.Error
	if !errors.As(err, &e) || e.Counts[ingest.NotFinite] == 0 {
		return false
	}
	for r, n := range e.Counts {
		if n > 0 && ingest.Reason(r) != ingest.NotFinite {
			return false
		}
	}
	return true
}

func (c *Config) defaults() {
	if c.LogEvery <= 0 {
		c.LogEvery = 10 * time.Second
	}
}

// addr is a remote address already formatted.
type addr string

func (a addr) String() string { return string(a) }
