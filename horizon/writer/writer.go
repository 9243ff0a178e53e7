// Package writer is horizon's bounded, batching path from the listeners to Redis. Listeners
// Put decoded datapoints; the writer normalises Graphite 1.1 tagged names, whatever format
// they came in ("name;b=2;a=1" is stored as "name;a=1;b=2"; an invalid tagged name is refused
// as bad_name), applies Skyline's ingest filters (SKIP_LIST, MAX_RESOLUTION), batches per
// metric and appends with pipelined round trips at least every flush interval. It replaces Skyline's multiprocessing queue and worker.py, which made one
// MULTI/EXEC round trip per datapoint and dropped whole chunks silently.
//
// Drop policy: the writer holds at most QueueSize datapoints (queued, batched or being
// retried). When it is full, Put with wait=true (TCP listeners) blocks, so the kernel pushes
// back on the sender; Put with wait=false (UDP listeners) refuses the datagram's points and the
// listener counts them as queue_full. Nothing is dropped without being counted. While Redis is
// unreachable the writer keeps buffering up to the bound and retries with backoff; points are
// delivered when Redis returns. A point that can never be stored is dropped and counted
// instead, without holding up the others: a name that lands on one of the store's own keys
// (bad_name), a timestamp beyond now + MaxFuture (too_new), a new name over MaxMetrics or
// MaxNewPerMinute (too_many_metrics), a key that Redis refuses for good because it holds
// another type (bad_name, at flush time).
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// Appender is the part of the store the writer needs.
type Appender interface {
	Append(ctx context.Context, data map[string][]byte, alsoSet []string) redisstore.AppendResult
}

// Config tunes the writer; each field means what the kale flag of the same name says.
type Config struct {
	QueueSize     int
	FlushInterval time.Duration
	FlushPoints   int
	MaxResolution time.Duration
	SkipList      []string
	FullNamespace string
	MiniNamespace string
	Mini          bool
	// MaxFuture drops points stamped later than now + MaxFuture (counted too_new); 0 means
	// DefaultMaxFuture.
	MaxFuture time.Duration
	// MaxMetrics caps the distinct metric names accepted (0: no cap); MaxNewPerMinute caps
	// how many new names are accepted per minute (0: no limit). Refused points are counted
	// too_many_metrics.
	MaxMetrics      int
	MaxNewPerMinute int
	// ForgetAfter is how long a name that receives nothing stays counted by MaxMetrics and
	// MaxNewPerMinute (forgotten after ForgetAfter to twice that; 0: DefaultForgetAfter).
	// FULL_DURATION + ROOMBA_GRACE_TIME, when Roomba has purged it, is the right value.
	ForgetAfter time.Duration
	// ShutdownTimeout bounds the final flush after Run's context ends; 0 makes one attempt
	// without waiting or retrying.
	ShutdownTimeout time.Duration
	// Now is the clock used by the MAX_RESOLUTION filter (time.Now when nil).
	Now func() time.Time

	// Bulk loading (kale import) rather than live ingestion:
	//   - AnyAge turns off the MAX_RESOLUTION and MaxFuture filters (history is loaded);
	//   - MiniWindow, when positive, copies to the mini namespace only the points newer than
	//     Now - MiniWindow (0: every point, as horizon does);
	//   - FailFast makes Run return the first write that fails or that Redis refuses, instead
	//     of retrying or dropping and counting: what was buffered is then lost, and the caller
	//     reports the error.
	AnyAge     bool
	MiniWindow time.Duration
	FailFast   bool
}

// DefaultMaxFuture is Config.MaxFuture when it is 0 (--max-future's default).
const DefaultMaxFuture = 10 * time.Minute

type batch struct {
	proto *telemetry.Proto
	pts   []metric.Point
}

// metricBuf holds one metric's encoded pairs not yet written; the full and mini copies are
// retried independently, so a partial failure never writes a point twice.
type metricBuf struct {
	full   []byte
	mini   []byte
	points int              // datapoints in full
	proto  *telemetry.Proto // where the first point came from: counts them if Redis refuses the key
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
	names        redisstore.Options // namespaces, for redisstore.ReservedName
	known        *knownNames
	mapPeak      int // most pending metrics at a flush since pending was made
	lastFlush    time.Time
	retryAt      time.Time
	backoff      time.Duration
	lastErr      error
	redisDownLog time.Time
	droppedLog   time.Time
	dropped      int   // datapoints dropped at flush time because Redis refused their key
	stopping     bool  // shutdown: its one summary line replaces the per-flush log lines
	failed       error // FailFast: the write that failed
	stored       atomic.Int64
}

// New returns a Writer; stats must not be nil.
func New(cfg Config, store Appender, stats *telemetry.Stats, log *slog.Logger) *Writer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFuture <= 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	cfg.ShutdownTimeout = max(cfg.ShutdownTimeout, 0)
	return &Writer{
		cfg: cfg, store: store, stats: stats, log: log,
		space:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		pending: map[string]*metricBuf{},
		enc:     redisstore.NewEncoder(),
		names:   redisstore.Options{FullNamespace: cfg.FullNamespace, MiniNamespace: cfg.MiniNamespace},
		known:   newKnownNames(cfg.MaxMetrics, cfg.MaxNewPerMinute, cfg.ForgetAfter, cfg.Now()),
	}
}

// ErrFull is returned by Put when the queue is full and the caller does not wait.
var ErrFull = errors.New("horizon writer queue is full")

// Put hands decoded points to the writer, which takes ownership of the slice. With wait it
// blocks while the writer is full (until ctx ends: then the points are refused with
// ctx.Err()); without wait it refuses them at once with ErrFull. A batch larger than the
// whole queue is accepted once the queue is empty, so a big frame cannot wedge a connection.
func (w *Writer) Put(ctx context.Context, proto *telemetry.Proto, pts []metric.Point, wait bool) error {
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
	seeded, seeding := w.seed(ctx)
	defer func() { <-seeding }()
	for {
		select {
		case <-ctx.Done():
			return w.shutdown()
		case hashes := <-seeded:
			w.known.add(hashes)
			seeded = nil
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
			if w.failed != nil {
				if ctx.Err() == nil {
					return w.failed
				}
				w.failed = nil // cut short by the stop: the final flush tries again
			}
		}
	}
}

// Stored returns the number of datapoints written to the full namespace so far.
func (w *Writer) Stored() int64 { return w.stored.Load() }

// shutdown delivers what is buffered within ShutdownTimeout (0: one attempt) and logs one
// line that says how it went.
func (w *Writer) shutdown() error {
	start := time.Now()
	w.stopping = true
	w.drain()
	held, dropped0 := w.pendingPts, w.dropped
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if w.cfg.ShutdownTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, w.cfg.ShutdownTimeout)
	}
	defer cancel()
	for len(w.pending) > 0 || len(w.unset) > 0 {
		if w.flush(ctx) {
			continue
		}
		if w.failed != nil {
			return w.failed
		}
		if w.cfg.ShutdownTimeout == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(w.backoff, time.Second)):
			continue
		}
		break
	}
	w.mu.Lock()
	late := w.queued // Put after the stop began (a listener still running): never flushed
	w.mu.Unlock()
	lost, dropped := w.pendingPts, w.dropped-dropped0
	delivered := held - lost - dropped
	lost += late
	secs := fmt.Sprintf("%.3f", time.Since(start).Seconds())
	if lost == 0 && len(w.unset) == 0 {
		w.log.Info("writer stopped: every buffered datapoint was delivered to Redis",
			"delivered", delivered, "seconds", secs, "dropped", dropped)
		return nil
	}
	w.log.Error("writer stopped: buffered datapoints could not be delivered to Redis and are lost; raise --shutdown-timeout if Redis was only slow",
		"lost", lost, "metrics", len(w.pending), "keys_not_in_unique_set", len(w.unset), "delivered", delivered,
		"dropped", dropped, "seconds", secs, "shutdown_timeout", w.cfg.ShutdownTimeout, "err", w.lastErr)
	return nil
}

// memberLister is the optional part of the store that seeds the known-name set.
type memberLister interface {
	Members(ctx context.Context, namespace string) ([]string, error)
}

// seed reads the names already stored (the full namespace's unique set) in the background and
// hands their hashes to Run, so a restart does not count every existing metric as new. The
// second channel closes when the reader is done.
func (w *Writer) seed(ctx context.Context) (<-chan []uint64, <-chan struct{}) {
	out, done := make(chan []uint64, 1), make(chan struct{})
	ml, ok := w.store.(memberLister)
	if !ok || !w.known.enabled {
		close(done)
		return nil, done
	}
	go func() {
		defer close(done)
		keys, err := ml.Members(ctx, w.cfg.FullNamespace)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("cannot read the stored metric names; each counts against --max-metrics and --max-new-metrics-per-minute when it first arrives", "err", err)
			}
			return
		}
		hashes := make([]uint64, len(keys))
		for i, k := range keys {
			hashes[i] = w.known.hash(strings.TrimPrefix(k, w.cfg.FullNamespace))
		}
		out <- hashes
	}()
	return out, done
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
	now := w.cfg.Now()
	oldest := float64(now.Add(-w.cfg.MaxResolution).Unix())
	newest := float64(now.Add(w.cfg.MaxFuture).Unix())
	if w.cfg.AnyAge {
		oldest, newest = math.Inf(-1), math.Inf(1)
	}
	miniFrom := math.Inf(-1)
	if w.cfg.MiniWindow > 0 {
		miniFrom = float64(now.Add(-w.cfg.MiniWindow).Unix())
	}
	filtered := 0
	for _, b := range q {
		for _, p := range b.pts {
			if strings.IndexByte(p.Name, ';') >= 0 && !tags.IsNormal(p.Name) {
				// A Graphite 1.1 tagged name from a sender: stored in its normal form (tags
				// sorted), so tag order does not make two series; an invalid one is refused.
				n, err := tags.Normalize(p.Name)
				if err != nil {
					b.proto.Reject(ingest.BadName, 1)
					filtered++
					continue
				}
				p.Name = n
			}
			if w.skipped(p.Name) {
				b.proto.Reject(ingest.SkipList, 1)
				filtered++
				continue
			}
			ts := p.Timestamp.Float64()
			if ts < oldest {
				b.proto.Reject(ingest.TooOld, 1)
				filtered++
				continue
			}
			if !(ts <= newest) { // NaN included
				b.proto.Reject(ingest.TooNew, 1)
				filtered++
				continue
			}
			m := w.pending[p.Name]
			if m == nil {
				// First point of this name since the last flush: the per-name checks.
				reason, ok := w.admit(p.Name, now)
				if !ok {
					b.proto.Reject(reason, 1)
					filtered++
					continue
				}
				m = &metricBuf{proto: b.proto}
				w.pending[p.Name] = m
			}
			n := len(m.full)
			m.full = w.enc.AppendPair(m.full, p.Timestamp, p.Value)
			if w.cfg.Mini && ts > miniFrom {
				m.mini = append(m.mini, m.full[n:]...)
			}
			m.points++
			w.pendingPts++
		}
	}
	w.release(filtered)
}

// admit checks a name that has no pending points: not one of the store's own keys, and known
// or admitted as new under MaxMetrics and MaxNewPerMinute.
func (w *Writer) admit(name string, now time.Time) (ingest.Reason, bool) {
	if redisstore.ReservedName(w.names, name) {
		return ingest.BadName, false
	}
	if !w.known.admit(name, now) {
		return ingest.TooManyMetrics, false
	}
	return 0, true
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
// succeeded; on failure the unwritten points stay pending and a retry is scheduled. Points of
// a key that Redis refuses for good are dropped and counted, and cause no retry.
func (w *Writer) flush(ctx context.Context) bool {
	start := time.Now()
	flushed := len(w.pending)
	w.mapPeak = max(w.mapPeak, flushed)
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
	refused := make(map[string]bool, len(res.Dropped))
	for _, d := range res.Dropped {
		refused[d.Key] = true
	}
	stored, dropped := 0, 0
	for name, m := range w.pending {
		if len(m.full) > 0 && refused[w.cfg.FullNamespace+name] {
			m.proto.Reject(ingest.BadName, m.points)
			dropped += m.points
			m.full, m.points = nil, 0
		}
		if len(m.full) > 0 && !failed[w.cfg.FullNamespace+name] {
			stored += m.points
			m.full, m.points = nil, 0
		}
		if len(m.mini) > 0 && (refused[w.cfg.MiniNamespace+name] || !failed[w.cfg.MiniNamespace+name]) {
			m.mini = nil
		}
		if len(m.full) == 0 && len(m.mini) == 0 {
			delete(w.pending, name)
		}
	}
	w.unset = res.FailedSet
	w.pendingPts -= stored + dropped
	w.dropped += dropped
	w.stats.Stored.Add(float64(stored))
	w.stored.Add(int64(stored))
	w.release(stored + dropped)
	if w.cfg.FailFast && (res.Retry() || len(res.Dropped) > 0) {
		w.failed = fmt.Errorf("cannot store %d points (%d series not written): %w",
			w.pendingPts+dropped, len(res.FailedAppend)+len(res.Dropped), res.Err)
		return false
	}
	w.lastFlush = time.Now()
	if len(w.pending) == 0 && w.mapPeak > 2*flushed+1024 {
		// A flood of names grew the map, which never shrinks: give it back.
		w.pending, w.mapPeak = map[string]*metricBuf{}, 0
	}
	if len(res.Dropped) > 0 && !w.stopping && time.Since(w.droppedLog) > 10*time.Second {
		w.droppedLog = time.Now()
		w.log.Warn("dropping datapoints of metrics whose Redis key holds another type (counted bad_name); other metrics are not held up",
			"keys", len(res.Dropped), "first", res.Dropped[0].Key, "err", res.Dropped[0].Err)
	}
	if !res.Retry() {
		if w.backoff > 0 && !w.stopping {
			w.log.Info("Redis writes recovered; buffered datapoints delivered", "store", "redis")
		}
		w.backoff = 0
		w.retryAt = time.Time{}
		return true
	}
	w.lastErr = res.Err
	w.stats.FlushErrors.Inc()
	w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 5*time.Second)
	w.retryAt = time.Now().Add(w.backoff)
	if !w.stopping && time.Since(w.redisDownLog) > 10*time.Second {
		w.redisDownLog = time.Now()
		w.log.Warn("cannot write to Redis; buffering and retrying", "err", res.Err,
			"buffered", w.Buffered(), "limit", w.cfg.QueueSize, "retry_in", w.backoff)
	}
	return false
}
