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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
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

// Redis keys of the import status (kale.oculus.*), read by the UI footer.
const (
	KeyImportStart    = "kale.oculus.last_import_start"    // RFC 3339 time the last sync started
	KeyImportEnd      = "kale.oculus.last_import_end"      // RFC 3339 time it ended
	KeyImportDuration = "kale.oculus.last_import_duration" // its duration in seconds
	KeyDocuments      = "kale.oculus.documents"            // documents in the index after it
)

// Options are a Service's dependencies.
type Options struct {
	Config   *config.Config
	Store    *redisstore.Store
	Registry prometheus.Registerer // nil: metrics are not exported
	Log      *slog.Logger          // nil: discard
}

// IndexStatus describes the index and the last import (sync) pass.
type IndexStatus struct {
	Documents         int       `json:"documents"`
	Path              string    `json:"path"`
	SizeBytes         int64     `json:"size_bytes"`
	LastImportStart   time.Time `json:"last_import_start"`
	LastImportEnd     time.Time `json:"last_import_end"`
	LastImportSeconds float64   `json:"last_import_seconds"`
	Indexing          bool      `json:"indexing"`
}

// Service is the shape index, its in-memory series and the search over them. It is safe for
// concurrent use: searches run while a sync updates the index.
type Service struct {
	cfg    *config.Config
	store  *redisstore.Store
	log    *slog.Logger
	m      *metrics
	length int    // resampled length of the stored windows and of the index tokens
	ns     string // key prefix of the indexed namespace ("metrics." or "mini.")

	idxMu  sync.RWMutex
	idx    bleve.Index
	closed bool

	syncMu  sync.Mutex        // one sync or rebuild at a time
	indexed map[string]string // name → change marker of its bleve document (nil until loaded)
	short   map[string]string // name → marker of a series too short to index
	snap    atomic.Pointer[snapshot]
	busy    atomic.Bool

	statusMu sync.Mutex
	last     IndexStatus

	coll collectionCache
}

// DefaultIndexLength is the stored resampled length when --search-length is 0 (native).
const DefaultIndexLength = 256

// New opens the index at --oculus-index (creating it if missing; "" keeps it in memory). An
// index built with other settings (length, source, window, token format) is rebuilt from
// scratch on the first Sync. The in-memory series are loaded by the first Sync (Run does it
// at once).
func New(o Options) (*Service, error) {
	if o.Config == nil || o.Store == nil {
		return nil, errors.New("cannot create the oculus service: Config and Store are required")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("cannot register the oculus metrics: %w", err)
	}
	s := &Service{cfg: o.Config, store: o.Store, log: log, m: m, length: o.Config.SearchLength}
	if s.length <= 0 {
		s.length = DefaultIndexLength
	}
	s.ns = o.Store.Options().FullNamespace
	if o.Config.OculusSource == "mini" {
		s.ns = o.Store.Options().MiniNamespace
	}
	s.snap.Store(emptySnapshot(s.length))
	idx, err := s.openIndex()
	if err != nil {
		return nil, err
	}
	s.idx = idx
	s.last.Path = o.Config.OculusIndex
	return s, nil
}

// Run keeps the index up to date: a sync at once, then one every --oculus-interval, until ctx
// ends. A failed pass (Redis down) is logged and retried at the next tick. Run closes the
// index when it returns.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	t := time.NewTicker(s.cfg.OculusInterval)
	defer t.Stop()
	for {
		st, err := s.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("oculus sync failed; retrying at the next interval", "err", err, "interval", s.cfg.OculusInterval)
		default:
			s.log.Info("oculus sync done", st.logAttrs()...)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
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
	s.idxMu.RLock()
	if !s.closed {
		if n, err := s.idx.DocCount(); err == nil {
			st.Documents = int(n)
		}
	}
	s.idxMu.RUnlock()
	if st.Path != "" {
		st.SizeBytes = dirSize(st.Path)
	}
	if st.LastImportEnd.IsZero() {
		vals, err := mget(ctx, s.store.Client(), KeyImportStart, KeyImportEnd, KeyImportDuration)
		if err == nil && len(vals) == 3 {
			if v, ok := vals[0].(string); ok {
				st.LastImportStart, _ = time.Parse(time.RFC3339Nano, v)
			}
			if v, ok := vals[1].(string); ok {
				st.LastImportEnd, _ = time.Parse(time.RFC3339Nano, v)
			}
			if v, ok := vals[2].(string); ok {
				st.LastImportSeconds, _ = strconv.ParseFloat(v, 64)
			}
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
	// One SET per key in a pipeline, not MSET: the keys live in different Redis Cluster slots.
	_, err := s.store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, KeyImportStart, start.UTC().Format(time.RFC3339Nano), 0)
		p.Set(ctx, KeyImportEnd, end.UTC().Format(time.RFC3339Nano), 0)
		p.Set(ctx, KeyImportDuration, strconv.FormatFloat(end.Sub(start).Seconds(), 'f', 3, 64), 0)
		p.Set(ctx, KeyDocuments, strconv.Itoa(docs), 0)
		return nil
	})
	if err != nil {
		s.log.Warn("cannot record the oculus import status in Redis", "err", err)
	}
}

// mget reads keys with one GET each in a pipeline (MGET would span Redis Cluster slots):
// a missing key is nil, as with MGET.
func mget(ctx context.Context, rdb redis.UniversalClient, keys ...string) ([]any, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]any, len(keys))
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			out[i] = v
		}
	}
	return out, nil
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
