// Package oculus is Kale's shape search, the stage after Redis that answers "which metrics
// look like this one?". It replaces Etsy's Oculus: the Sinatra app's search and collections
// (oculusweb.rb), the cron import (scripts/import.rb) with its Resque RedisWorker jobs, and
// the ElasticSearch native-script plugin (OculusPlugins.jar: oculus_euclidian, oculus_dtw).
//
// A Service keeps a bleve index of every metric's recent window up to date from the store
// (incrementally: only metrics whose stored bytes changed are re-indexed; the index survives
// restarts), keeps the resampled, z-normalised windows in memory, and searches them in two
// phases: index candidates seed a top-k heap, then every other eligible series is scanned in
// increasing lower-bound order with early abandoning, so the top-k of `euclidean` and `dtw`
// equal a brute-force scan. `fastdtw` reproduces Oculus' approximate search (fingerprint
// phrase match, then FastDTW on min-max scaled series). Collections (saved incident
// patterns with a frozen copy of their series) live in Redis under kale.collections.
// README.md documents the index layout, the Redis keys, the search and its exactness
// argument, and the Prometheus metrics.
package oculus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/priority"
)

// Sentinel errors, checked with errors.Is.
var (
	ErrBadQuery = errors.New("bad search query")           // invalid input (HTTP 400)
	ErrNotFound = errors.New("not found")                  // unknown metric or collection (HTTP 404)
	ErrConflict = errors.New("already exists")             // collection name clash (HTTP 409)
	ErrClosed   = errors.New("the oculus index is closed") // search or sync after Close (HTTP 503)
	// ErrTooMuchWork is a query refused because its work estimate exceeds --search-max-work
	// (work.go). It wraps ErrBadQuery: the caller can shrink the query (HTTP 400).
	ErrTooMuchWork = fmt.Errorf("search needs more work than --search-max-work allows: %w", ErrBadQuery)
)

// badInput is an ErrBadQuery (or kind, which wraps it) with its own message.
type badInput struct {
	msg  string
	kind error // nil: ErrBadQuery
}

func (e *badInput) Error() string { return e.msg }
func (e *badInput) Unwrap() error {
	if e.kind != nil {
		return e.kind
	}
	return ErrBadQuery
}

func badf(format string, args ...any) error { return &badInput{msg: fmt.Sprintf(format, args...)} }

// Options are a Service's dependencies. Config, Series, Collections and State are required.
type Options struct {
	Config      Config
	Series      SeriesReader          // the Skyline layout (*redisstore.Store)
	Collections CollectionStore       // kale.collections* (*collectionstore.Store)
	State       StateStore            // kale.oculus.* (*indexstore.Store)
	Registry    prometheus.Registerer // nil: metrics are not exported
	Log         *slog.Logger          // nil: discard
	// Gate gives searches priority over background work of the same process: each search
	// holds it (Enter) while it runs, and the sync and catch-up passes Wait on it between
	// bounded batches. 'kale all' passes the one Gate the analyzer's workers also wait on;
	// nil: searches and indexing do not coordinate.
	Gate *priority.Gate
}

// IndexStatus describes the index and the last import (sync) pass.
type IndexStatus struct {
	Documents         int       `json:"documents"` // documents searches can find (published by a finished sync)
	Path              string    `json:"path"`
	SizeBytes         int64     `json:"size_bytes"`
	LastImportStart   time.Time `json:"last_import_start"`
	LastImportEnd     time.Time `json:"last_import_end"`
	LastImportSeconds float64   `json:"last_import_seconds"`
	Indexing          bool      `json:"indexing"`
	// Metrics is the size of the unique-metrics set as last seen (polled every few seconds);
	// CatchingUp is true until the first sync ends and while the set has changed since the
	// last pass (new metrics not searchable yet). Documents < Metrics is normal otherwise:
	// series with fewer than 2 points in the window are not indexed.
	Metrics    int  `json:"metrics"`
	CatchingUp bool `json:"catching_up"`
}

// Service is the shape index, its in-memory series and the search over them. It is safe for
// concurrent use: searches run while a sync updates the index.
type Service struct {
	cfg    Config
	series SeriesReader
	colls  CollectionStore
	state  StateStore
	log    *slog.Logger
	m      *metrics
	gate   *priority.Gate // nil: no coordination with background work
	length int            // resampled length of the stored windows and of the index tokens
	ns     string         // key prefix of the indexed namespace ("metrics." or "mini.")

	idxMu  sync.RWMutex
	idx    bleve.Index
	closed bool

	syncMu  sync.Mutex          // one sync or rebuild at a time
	indexed map[string]string   // name → change marker of its bleve document (nil until loaded)
	short   map[string]string   // name → marker of a series too short to index
	watch   map[string]*watched // recently discovered metrics, probed by every quick pass (catchup.go)
	snap    atomic.Pointer[snapshot]
	busy    atomic.Bool

	// The catch-up poll (catchup.go): the unique set's size as last seen (SCARD or SMEMBERS)
	// and as of the last finished pass, whether a pass has finished, the watched metrics.
	seen      atomic.Int64
	listed    atomic.Int64
	synced    atomic.Bool
	watching  atomic.Int64
	pollEvery time.Duration

	statusMu sync.Mutex
	last     IndexStatus

	coll collectionCache
}

// DefaultIndexLength is the stored resampled length when --search-length is 0 (native).
const DefaultIndexLength = 256

// New opens the index at Config.IndexPath (creating it if missing; "" keeps it in memory). An
// index built with other settings (length, source, window, token format) is rebuilt from
// scratch on the first Sync. The in-memory series are loaded by the first Sync (Run does it
// at once).
func New(o Options) (*Service, error) {
	if o.Series == nil || o.Collections == nil || o.State == nil {
		return nil, errors.New("cannot create the oculus service: Series, Collections and State are required")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create the oculus service: %w", err)
	}
	cfg := o.Config.withDefaults()
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("cannot register the oculus metrics: %w", err)
	}
	s := &Service{cfg: cfg, series: o.Series, colls: o.Collections, state: o.State, log: log, m: m, length: cfg.SearchLength, gate: o.Gate}
	if s.length <= 0 {
		s.length = DefaultIndexLength
	}
	s.ns = cfg.FullNamespace
	if cfg.Source == SourceMini {
		s.ns = cfg.MiniNamespace
	}
	s.snap.Store(emptySnapshot(s.length))
	s.watch = map[string]*watched{}
	s.pollEvery = min(pollInterval, cfg.Interval)
	idx, err := s.openIndex()
	if err != nil {
		return nil, err
	}
	s.idx = idx
	s.last.Path = cfg.IndexPath
	return s, nil
}

// Run keeps the index up to date: a sync at once, then one every --oculus-interval, until ctx
// ends; in between, a cheap poll of the unique set's size every few seconds indexes new metrics
// within seconds (catchup.go). A failed pass (Redis down) is logged and retried at the next
// tick. Run closes the index when it returns.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	poll := time.NewTicker(s.pollEvery)
	defer poll.Stop()
	var ps pollState
	for {
		st, err := s.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("oculus sync failed; retrying at the next interval", "err", err, "interval", s.cfg.Interval)
		default:
			s.log.Info("oculus sync done", st.logAttrs()...)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				break wait
			case now := <-poll.C:
				s.poll(ctx, &ps, now)
			}
		}
	}
}

// Close closes the index; it is safe to call more than once. It waits for running searches
// (each ends by --search-timeout at the latest); searches and syncs after Close fail with
// ErrClosed.
func (s *Service) Close() error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.idx.Close(); err != nil {
		return fmt.Errorf("cannot close the oculus index: %w", err)
	}
	return nil
}

// Status describes the index and the last import. Before this process's first sync ends, the
// import times come from Redis (written by whichever process maintains the index).
func (s *Service) Status(ctx context.Context) IndexStatus {
	s.statusMu.Lock()
	st := s.last
	s.statusMu.Unlock()
	st.Indexing = s.busy.Load()
	st.Metrics = int(s.seen.Load())
	st.CatchingUp = !s.synced.Load() || s.seen.Load() != s.listed.Load()
	s.idxMu.RLock()
	if !s.closed {
		// The series searches can find: the index's documents, but not before the sync that
		// indexed them has published them to searches (a restart's on-disk index holds every
		// document while its first sync still loads the windows).
		if n, err := s.idx.DocCount(); err == nil {
			st.Documents = min(int(n), len(s.snap.Load().list))
		}
	}
	s.idxMu.RUnlock()
	if st.Path != "" {
		st.SizeBytes = dirSize(st.Path)
	}
	if st.LastImportEnd.IsZero() {
		if im, err := s.state.LastImport(ctx); err == nil {
			st.LastImportStart, st.LastImportEnd, st.LastImportSeconds = im.Start, im.End, im.Seconds
		}
	}
	return st
}

func dirSize(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// recordImport stores the times of a finished sync in memory and in Redis.
func (s *Service) recordImport(ctx context.Context, start, end time.Time, docs int) {
	s.statusMu.Lock()
	s.last.LastImportStart, s.last.LastImportEnd = start, end
	s.last.LastImportSeconds = end.Sub(start).Seconds()
	s.last.Documents = docs
	s.statusMu.Unlock()
	if err := s.state.RecordImport(ctx, indexstore.Import{Start: start, End: end, Documents: docs}); err != nil {
		s.log.Warn("cannot record the oculus import status in Redis", "err", err)
	}
}

// removeIndexDir deletes an index directory, refusing a directory that is not a bleve index.
func removeIndexDir(path string) error {
	if _, err := os.Stat(filepath.Join(path, "index_meta.json")); err != nil {
		return fmt.Errorf("cannot remove %q: it does not look like a bleve index (no index_meta.json)", path)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("cannot remove the index %q: %w", path, err)
	}
	return nil
}
