// Package writer is horizon's bounded, batching path from the listeners to Redis. Listeners
// Put decoded datapoints; the writer applies Skyline's ingest filters (SKIP_LIST,
// MAX_RESOLUTION), batches per metric and appends with pipelined round trips at least every
// flush interval. It replaces Skyline's multiprocessing queue and worker.py, which made one
// MULTI/EXEC round trip per datapoint and dropped whole chunks silently.
//
// Drop policy: the writer holds at most QueueSize datapoints (queued, batched or being
// retried). When it is full, Put with wait=true (TCP listeners) blocks, so the kernel pushes
// back on the sender; Put with wait=false (UDP listeners) refuses the datagram's points and the
// listener counts them as queue_full. Nothing is dropped without being counted. While Redis is
// unreachable the writer keeps buffering up to the bound and retries with backoff; points are
// delivered when Redis returns.
package writer

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/redisstore"
)

// Appender is the part of the store the writer needs.
type Appender interface {
	Append(ctx context.Context, data map[string][]byte, alsoSet []string) redisstore.AppendResult
}

// Config tunes the writer; see utils/config for the meaning of each field.
type Config struct {
	QueueSize     int
	FlushInterval time.Duration
	FlushPoints   int
	MaxResolution time.Duration
	SkipList      []string
	FullNamespace string
	MiniNamespace string
	Mini          bool
	// MaxFuture drops points stamped later than now + MaxFuture (counted too_new).
	MaxFuture time.Duration
	// MaxMetrics caps the distinct metric names accepted (0: no cap); MaxNewPerMinute caps
	// how many new names are accepted per minute (0: no limit). Refused points are counted
	// too_many_metrics.
	MaxMetrics      int
	MaxNewPerMinute int
	// ShutdownTimeout bounds the final flush after Run's context ends.
	ShutdownTimeout time.Duration
	// Now is the clock used by the MAX_RESOLUTION filter (time.Now when nil).
	Now func() time.Time
}

type batch struct {
	proto *telemetry.Proto
	pts   []redisstore.Point
}

// metricBuf holds one metric's encoded pairs not yet written; the full and mini copies are
// retried independently, so a partial failure never writes a point twice.
type metricBuf struct {
	full   []byte
	mini   []byte
	points int // datapoints in full
}

// Writer buffers datapoints and writes them to Redis. Put is safe for concurrent use; Run
// must be called exactly once.
type Writer struct {
	cfg   Config
	store Appender
	stats *telemetry.Stats
	log   *slog.Logger

	mu     sync.Mutex
	queue  []batch
	depth  int           // points held anywhere in the writer; bounded by QueueSize
	space  chan struct{} // closed and replaced whenever depth drops
	wake   chan struct{} // nudges Run when the queue reaches FlushPoints
	queued int           // points in queue (not yet batched)

	// Owned by Run.
	pending      map[string]*metricBuf // metric name → encoded pairs
	pendingPts   int
	unset        []string // keys appended whose set membership must still be recorded
	enc          *redisstore.Encoder
	lastFlush    time.Time
	retryAt      time.Time
	backoff      time.Duration
	redisDownLog time.Time
}

// New returns a Writer; stats must not be nil.
func New(cfg Config, store Appender, stats *telemetry.Stats, log *slog.Logger) *Writer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	return &Writer{
		cfg: cfg, store: store, stats: stats, log: log,
		space:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		pending: map[string]*metricBuf{},
		enc:     redisstore.NewEncoder(),
	}
}

// ErrFull is returned by Put when the queue is full and the caller does not wait.
var ErrFull = errors.New("horizon writer queue is full")

// Put hands decoded points to the writer, which takes ownership of the slice. With wait it
// blocks while the writer is full (until ctx ends: then the points are refused with
// ctx.Err()); without wait it refuses them at once with ErrFull. A batch larger than the
// whole queue is accepted once the queue is empty, so a big frame cannot wedge a connection.
func (w *Writer) Put(ctx context.Context, proto *telemetry.Proto, pts []redisstore.Point, wait bool) error {
	n := len(pts)
	if n == 0 {
		return nil
	}
	for {
		w.mu.Lock()
		if w.depth+n <= w.cfg.QueueSize || w.depth == 0 {
			w.queue = append(w.queue, batch{proto: proto, pts: pts})
			w.depth += n
			w.queued += n
			full := w.queued >= w.cfg.FlushPoints
			w.mu.Unlock()
			w.stats.Buffered.Add(float64(n))
			if full {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
			return nil
		}
		space := w.space
		w.mu.Unlock()
		if !wait {
			return ErrFull
		}
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Buffered returns the number of datapoints held by the writer.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.depth
}

// release lowers the depth by n and wakes blocked Put calls.
func (w *Writer) release(n int) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	w.depth -= n
	close(w.space)
	w.space = make(chan struct{})
	w.mu.Unlock()
	w.stats.Buffered.Sub(float64(n))
}

// Run batches and writes until ctx ends, then drains what is buffered (bounded by
// ShutdownTimeout) and returns. Listeners should be stopped before ctx ends so nothing
// arrives after the final flush.
func (w *Writer) Run(ctx context.Context) error {
	tick := time.NewTicker(w.cfg.FlushInterval / 2)
	defer tick.Stop()
	w.lastFlush = time.Now()
	for {
		select {
		case <-ctx.Done():
			return w.shutdown()
		case <-tick.C:
		case <-w.wake:
		}
		w.drain()
		now := time.Now()
		if len(w.pending) == 0 && len(w.unset) == 0 {
			w.lastFlush = now
			continue
		}
		if now.Before(w.retryAt) {
			continue
		}
		if w.pendingPts >= w.cfg.FlushPoints || now.Sub(w.lastFlush) >= w.cfg.FlushInterval || len(w.pending) > 0 && w.backoff > 0 {
			w.flush(ctx)
		}
	}
}

func (w *Writer) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.ShutdownTimeout)
	defer cancel()
	for {
		w.drain()
		if len(w.pending) == 0 && len(w.unset) == 0 {
			return nil
		}
		if w.flush(ctx) {
			continue
		}
		select {
		case <-ctx.Done():
			w.log.Error("cannot deliver buffered datapoints before shutdown; they are lost",
				"datapoints", w.pendingPts, "metrics", len(w.pending), "timeout", w.cfg.ShutdownTimeout)
			return nil
		case <-time.After(min(w.backoff, time.Second)):
		}
	}
}

// drain moves queued batches into the per-metric buffers, applying the ingest filters.
func (w *Writer) drain() {
	w.mu.Lock()
	q := w.queue
	w.queue = nil
	w.queued = 0
	w.mu.Unlock()
	if len(q) == 0 {
		return
	}
	oldest := float64(w.cfg.Now().Add(-w.cfg.MaxResolution).Unix())
	filtered := 0
	for _, b := range q {
		for _, p := range b.pts {
			if w.skipped(p.Name) {
				b.proto.Reject(ingest.SkipList, 1)
				filtered++
				continue
			}
			if p.Timestamp.Float64() < oldest {
				b.proto.Reject(ingest.TooOld, 1)
				filtered++
				continue
			}
			m := w.pending[p.Name]
			if m == nil {
				m = &metricBuf{}
				w.pending[p.Name] = m
			}
			n := len(m.full)
			m.full = w.enc.AppendPair(m.full, p.Timestamp, p.Value)
			if w.cfg.Mini {
				m.mini = append(m.mini, m.full[n:]...)
			}
			m.points++
			w.pendingPts++
		}
	}
	w.release(filtered)
}

func (w *Writer) skipped(name string) bool {
	for _, s := range w.cfg.SkipList {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// flush writes every pending metric in pipelined chunks. It reports whether the write fully
// succeeded; on failure the unwritten points stay pending and a retry is scheduled.
func (w *Writer) flush(ctx context.Context) bool {
	start := time.Now()
	data := make(map[string][]byte, len(w.pending)*2)
	for name, m := range w.pending {
		if len(m.full) > 0 {
			data[w.cfg.FullNamespace+name] = m.full
		}
		if len(m.mini) > 0 {
			data[w.cfg.MiniNamespace+name] = m.mini
		}
	}
	res := w.store.Append(ctx, data, w.unset)
	w.stats.FlushSeconds.Observe(time.Since(start).Seconds())

	failed := make(map[string]bool, len(res.FailedAppend))
	for _, k := range res.FailedAppend {
		failed[k] = true
	}
	stored := 0
	for name, m := range w.pending {
		if len(m.full) > 0 && !failed[w.cfg.FullNamespace+name] {
			stored += m.points
			m.full, m.points = nil, 0
		}
		if len(m.mini) > 0 && !failed[w.cfg.MiniNamespace+name] {
			m.mini = nil
		}
		if len(m.full) == 0 && len(m.mini) == 0 {
			delete(w.pending, name)
		}
	}
	w.unset = res.FailedSet
	w.pendingPts -= stored
	w.stats.Stored.Add(float64(stored))
	w.release(stored)
	w.lastFlush = time.Now()
	if res.Err == nil {
		if w.backoff > 0 {
			w.log.Info("Redis writes recovered; buffered datapoints delivered", "store", "redis")
		}
		w.backoff = 0
		w.retryAt = time.Time{}
		return true
	}
	w.stats.FlushErrors.Inc()
	w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 5*time.Second)
	w.retryAt = time.Now().Add(w.backoff)
	if time.Since(w.redisDownLog) > 10*time.Second {
		w.redisDownLog = time.Now()
		w.log.Warn("cannot write to Redis; buffering and retrying", "err", res.Err,
			"buffered", w.Buffered(), "limit", w.cfg.QueueSize, "retry_in", w.backoff)
	}
	return false
}
