package oculus

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// Sizes of the sync's round trips and index batches.
const (
	probeChunk = 5_000 // keys per pipelined STRLEN+GETRANGE round trip
	fetchChunk = 256   // keys per MGET round trip (a 24 h series at 10 s is ~150 KB)
	batchDocs  = 1_000 // documents per bleve batch (the gate is waited on between batches)
	markerTail = 64    // bytes of the stored value hashed into the change marker
)

// marker is a stored series' change marker: its length and a hash of its last bytes. Series
// only grow by APPEND at the end and Roomba rewrites them whole, so any change alters one or
// the other; it is computed identically from the value (after a GET) and from STRLEN plus
// GETRANGE -64 -1 (the cheap probe of an unchanged metric).
func marker(n int, tail []byte) string {
	h := fnv.New64a()
	h.Write(tail)
	var sum [8]byte
	return strconv.Itoa(n) + ":" + hex.EncodeToString(h.Sum(sum[:0]))
}

func markerOf(b []byte) string { return marker(len(b), b[max(0, len(b)-markerTail):]) }

// Sync brings the index and the in-memory series up to date with Redis: metrics whose stored
// bytes changed (or that are new) are read and re-indexed, unchanged ones are not read again,
// vanished ones are deleted. The first pass of a process reads every series (to fill memory)
// but re-indexes only those whose marker differs from the one stored in the index, so a
// restart does not rebuild the index.
func (s *Service) Sync(ctx context.Context) (SyncStats, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.syncLocked(ctx, passProbe)
}

// Rebuild drops the index and builds it again from Redis. Searches keep using the previous
// in-memory series until the rebuild ends.
func (s *Service) Rebuild(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.idxMu.Lock()
	if s.closed {
		s.idxMu.Unlock()
		return ErrClosed
	}
	if err := s.idx.Close(); err != nil {
		s.log.Warn("cannot close the oculus index before the rebuild", "err", err)
	}
	if s.cfg.IndexPath != "" {
		if err := removeIndexDir(s.cfg.IndexPath); err != nil {
			s.closed = true
			s.idxMu.Unlock()
			return err
		}
	}
	idx, err := s.createIndex(s.cfg.IndexPath)
	if err != nil {
		s.closed = true
		s.idxMu.Unlock()
		return err
	}
	s.idx = idx
	s.idxMu.Unlock()
	s.indexed = map[string]string{}
	s.short = map[string]string{}
	s.watch = map[string]*watched{}
	if _, err := s.syncLocked(ctx, passRebuild); err != nil {
		return fmt.Errorf("cannot rebuild the oculus index: %w", err)
	}
	return nil
}

// index returns the open index.
func (s *Service) index() (bleve.Index, error) {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.idx, nil
}

// Kinds of sync pass.
type passMode int

const (
	passProbe   passMode = iota // every listed metric probed for changes (Sync, every --oculus-interval)
	passRebuild                 // every listed metric read and indexed (Rebuild)
	passQuick                   // only new and watched metrics probed (catchUp, when the unique set changed)
)

// unprobed marks a metric a quick pass did not probe (a real marker holds a colon).
const unprobed = "-"

func (s *Service) syncLocked(ctx context.Context, mode passMode) (st SyncStats, err error) {
	full := mode == passRebuild
	start := time.Now()
	s.busy.Store(true)
	defer func() {
		s.busy.Store(false)
		st.Duration = time.Since(start)
		s.m.syncSeconds.Observe(st.Duration.Seconds())
		if err != nil {
			s.m.syncErrors.Inc()
		}
	}()
	idx, err := s.index()
	if err != nil {
		return st, err
	}
	if s.indexed == nil {
		m, err := loadMarkers(idx)
		if err != nil {
			return st, err
		}
		s.indexed, s.short = m, map[string]string{}
	}
	keys, err := s.series.Members(ctx, s.ns)
	if err != nil {
		return st, err
	}
	s.seen.Store(int64(len(keys)))
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		if n, ok := strings.CutPrefix(k, s.ns); ok && n != "" {
			names = append(names, n)
		}
	}
	st.Metrics = len(names)

	old := s.snap.Load()
	var keep []*series
	fetch := names
	if !full && (len(old.list) > 0 || mode == passQuick) {
		var probed []string
		if mode == passQuick {
			probed, err = s.probeNew(ctx, names, old)
		} else {
			probed, err = s.probe(ctx, names)
		}
		if err != nil {
			return st, err
		}
		fetch = fetch[:0:0]
		for i, n := range names {
			m := probed[i]
			if mode == passQuick && !s.fetchNow(n, m, old, start) {
				if e := old.get(n); e != nil {
					keep = append(keep, e)
					st.Unchanged++
				} else if m != "" {
					st.Skipped++ // too short, or still being written and indexed a moment ago
				}
				continue
			}
			switch {
			case m == "":
				// vanished since SMEMBERS: deleted below
			case old.get(n) != nil && old.get(n).marker == m:
				keep = append(keep, old.get(n))
				st.Unchanged++
			case s.short[n] == m:
				st.Skipped++
			default:
				fetch = append(fetch, n)
			}
		}
	}

	// Read and prepare the changed series in chunks; a second goroutine feeds the bleve
	// batches to the index while the next chunk is read.
	batches := make(chan *bleve.Batch, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for b := range batches {
			if err := s.gate.Wait(gctx); err != nil {
				return err
			}
			if err := idx.Batch(b); err != nil {
				return fmt.Errorf("cannot update the oculus index: %w", err)
			}
		}
		return nil
	})
	newIndexed := map[string]string{}
	fresh := map[*series][]float32{}
	list := keep
	present := make(map[string]bool, len(names))
	for _, e := range keep {
		present[e.name] = true
	}
	batch := idx.NewBatch()
	var readErr error
	for lo := 0; lo < len(fetch) && readErr == nil; lo += fetchChunk {
		// Searches run ahead: a chunk (fetchChunk series) is the unit of background work.
		if err := s.gate.Wait(gctx); err != nil {
			readErr = err
			break
		}
		chunk := fetch[lo:min(lo+fetchChunk, len(fetch))]
		prepared, err := s.fetchAndPrepare(gctx, chunk)
		if err != nil {
			readErr = err
			break
		}
		for i, p := range prepared {
			n := chunk[i]
			switch {
			case p.missing:
				continue
			case p.series == nil:
				s.short[n] = p.marker
				st.Skipped++
				continue
			}
			delete(s.short, n)
			list = append(list, p.series)
			fresh[p.series] = p.bounds
			present[n] = true
			if !full && s.indexed[n] == p.series.marker {
				st.Loaded++
				continue
			}
			if err := batch.Index(n, p.doc); err != nil {
				readErr = fmt.Errorf("cannot index %q: %w", n, err)
				break
			}
			newIndexed[n] = p.series.marker
			st.Indexed++
			if batch.Size() >= batchDocs {
				select {
				case batches <- batch:
				case <-gctx.Done():
					readErr = gctx.Err()
				}
				batch = idx.NewBatch()
			}
		}
	}
	var deleted []string
	if readErr == nil {
		for n := range s.indexed {
			if !present[n] {
				batch.Delete(n)
				deleted = append(deleted, n)
			}
		}
		if len(s.short) > 0 {
			listed := make(map[string]bool, len(names))
			for _, n := range names {
				listed[n] = true
			}
			for n := range s.short {
				if !listed[n] {
					delete(s.short, n)
				}
			}
		}
		if batch.Size() > 0 {
			select {
			case batches <- batch:
			case <-gctx.Done():
				readErr = gctx.Err()
			}
		}
	}
	close(batches)
	if err := g.Wait(); err != nil && readErr == nil {
		readErr = err
	}
	changed := st.Indexed > 0 || len(deleted) > 0
	if readErr == nil && (mode != passQuick || changed) {
		fin := idx.NewBatch()
		fin.SetInternal(syncedKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
		if err := s.durableBatch(ctx, idx, fin); err != nil {
			readErr = fmt.Errorf("cannot persist the oculus index: %w", err)
		}
	}
	if readErr != nil {
		s.indexed = nil // reload the markers from the index next time: some batches may have landed
		return st, readErr
	}
	for n, m := range newIndexed {
		s.indexed[n] = m
	}
	for _, n := range deleted {
		delete(s.indexed, n)
	}
	st.Deleted = len(deleted)
	if full || st.Indexed > 0 || st.Loaded > 0 || st.Deleted > 0 || len(list) != len(old.list) {
		s.snap.Store(newSnapshot(s.length, list, old, fresh))
	}
	s.listed.Store(int64(len(keys)))
	s.synced.Store(true)
	if n, err := idx.DocCount(); err == nil {
		st.Documents = int(n)
	}
	s.m.reindexed.Add(float64(st.Indexed))
	s.m.deleted.Add(float64(st.Deleted))
	s.m.documents.Set(float64(st.Documents))
	if mode == passQuick {
		s.expireWatch(start, present)
	}
	s.watching.Store(int64(len(s.watch)))
	if mode != passQuick || changed {
		s.recordImport(ctx, start, time.Now(), st.Documents)
	}
	return st, nil
}

// probe returns the change marker of each metric's stored value ("" for a missing key) from
// its length and last bytes, without reading the values.
func (s *Service) probe(ctx context.Context, names []string) ([]string, error) {
	out := make([]string, len(names))
	keys := make([]string, 0, min(probeChunk, len(names)))
	for lo := 0; lo < len(names); lo += probeChunk {
		if err := s.gate.Wait(ctx); err != nil {
			return nil, err
		}
		chunk := names[lo:min(lo+probeChunk, len(names))]
		keys = keys[:0]
		for _, n := range chunk {
			keys = append(keys, s.ns+n)
		}
		tails, err := s.series.Tails(ctx, keys, markerTail)
		if err != nil {
			return nil, err
		}
		for i, t := range tails {
			if t.Len > 0 {
				out[lo+i] = marker(t.Len, t.Bytes)
			}
		}
	}
	return out, nil
}

// prepared is one fetched metric, ready to be indexed and searched.
type prepared struct {
	missing bool      // no value in Redis
	marker  string    // of the bytes read
	series  *series   // nil when the window has fewer than 2 usable points
	bounds  []float32 // its snapshot bounds (boundsOf)
	doc     document
}

// fetchAndPrepare reads the values of chunk and prepares them on every core.
func (s *Service) fetchAndPrepare(ctx context.Context, chunk []string) ([]prepared, error) {
	keys := make([]string, len(chunk))
	for i, n := range chunk {
		keys[i] = s.ns + n
	}
	raws, err := s.series.Raw(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]prepared, len(chunk))
	eachDecoded(len(chunk), 64, func(i int, buf []redisstore.Pair) []redisstore.Pair {
		out[i], buf = s.prepare(chunk[i], raws[i], buf)
		return buf
	})
	return out, nil
}

// window is the configured recent window in seconds (0: the whole mini series).
func (s *Service) window() float64 {
	if s.cfg.Source == SourceMini {
		return 0
	}
	return s.cfg.Window.Seconds()
}

// prepare turns one stored value into a series and its index document.
func (s *Service) prepare(name string, b []byte, buf []redisstore.Pair) (prepared, []redisstore.Pair) {
	if len(b) == 0 {
		return prepared{missing: true}, buf
	}
	p := prepared{marker: markerOf(b)}
	vals, _, buf := windowOf(b, s.window(), buf)
	if len(vals) < 2 {
		return p, buf
	}
	z := resampleZ(vals, s.length)
	if !allFinite(z) {
		return p, buf // values so large that normalising them overflows
	}
	fp := encodeFingerprint(algorithms.OculusFingerprint(vals))
	z32, bounds := compactSeries(z, envBand(s.length))
	e := &series{name: name, marker: p.marker, n: int32(min(len(vals), math.MaxInt32)), z: z32, fp: packFingerprint(fp)}
	p.series, p.bounds = e, bounds
	p.doc = newDocument(e, z, fp)
	return p, buf
}

// readRaw reads one metric's stored bytes straight from Redis (a query metric or a collection
// member not indexed yet); ErrNotFound if it is missing.
func (s *Service) readRaw(ctx context.Context, name string) ([]byte, error) {
	raws, err := s.series.Raw(ctx, []string{s.ns + name})
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", s.ns+name, err)
	}
	if len(raws) != 1 || raws[0] == nil {
		return nil, fmt.Errorf("%w: no metric %q", ErrNotFound, name)
	}
	return raws[0], nil
}
