package analyzer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer/statestore"
)

// KeyStatePrefix prefixes the saved kale detector state of each metric (see encodeState for
// the layout).
const KeyStatePrefix = statestore.KeyStatePrefix

// States keeps the kale detector states between runs; *statestore.Store implements it.
type States interface {
	// LoadStates returns the saved state of each of names that has one.
	LoadStates(ctx context.Context, names []string) (map[string][]byte, error)
	// SaveStates writes states by metric name, each expiring after ttl.
	SaveStates(ctx context.Context, states map[string][]byte, ttl time.Duration) error
}

// metricState is what the analyzer keeps of one metric between cycles with the kale
// detector: the detector MARSHALLED (a worker unmarshals it into its own detector, feeds the
// new points and marshals it back, so the resident size is the serialised size), the newest
// timestamps, and the bytes of the last stored pair it read, which find the unread tail of
// the series in the next cycle (see kaleworker.go). About 90 bytes plus the blob.
type metricState struct {
	blob    []byte  // algorithms.Kale's MarshalBinary; nil: no detector yet
	anomaly *Record // the latest anomaly, current while its point is recent
	last    float64 // the newest timestamp fed to the detector (or skipped as non-finite)
	newest  float64 // the newest stored timestamp seen, fed or not
	points  uint32  // stored points: exact after a full read, counted up between them
	seen    uint32  // the cycle that last assigned this metric to this analyzer
	flags   uint8   // stateYoung, stateDirty
	sigLen  uint8
	sig     [maxSig]byte // the last stored pair read; sigLen 0: read the whole series
}

// maxSig is the longest msgpack [ts, value] pair: a fixarray byte and two 9-byte numbers.
const maxSig = 19

const (
	// stateYoung: the detector learnt from the last ColdRows rows only; refine rebuilds it
	// from the whole stored history when there is time.
	stateYoung uint8 = 1 << iota
	// stateDirty: changed since it was last checkpointed.
	stateDirty
	// stateLoaded: read from a saved state, not yet unmarshalled by a worker.
	stateLoaded
	// stateFound: refine found the anomaly in ms.anomaly; the next cycle reports it as new.
	stateFound
)

func newMetricState() *metricState {
	return &metricState{last: math.Inf(-1), newest: math.Inf(-1)}
}

// setBlob stores a freshly marshalled detector, reusing the old blob's memory when it fits
// (the states are rewritten every cycle; reuse keeps the heap from churning).
func (ms *metricState) setBlob(b []byte) {
	if cap(ms.blob) >= len(b) && cap(ms.blob) <= len(b)+512 {
		ms.blob = append(ms.blob[:0], b...)
	} else {
		ms.blob = append([]byte(nil), b...) // its capacity is the allocation's size class
	}
	ms.flags |= stateDirty
}

func (ms *metricState) setSig(b []byte) {
	ms.sigLen = uint8(copy(ms.sig[:], b))
}

// kaleStates holds every metric's state between cycles, sharded to keep workers apart.
// A worker owns the states of its chunk's metrics for the cycle; checkpoint and refine run
// between cycles, never beside one.
type kaleStates struct {
	seed   maphash.Seed
	shards [64]stateShard
	cursor int // the shard the next checkpoint starts at
}

type stateShard struct {
	sync.Mutex
	m map[string]*metricState
}

func newKaleStates() *kaleStates {
	s := &kaleStates{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[string]*metricState{}
	}
	return s
}

func (s *kaleStates) shard(name string) *stateShard {
	return &s.shards[maphash.String(s.seed, name)%uint64(len(s.shards))]
}

func (s *kaleStates) get(name string) *metricState {
	sh := s.shard(name)
	sh.Lock()
	defer sh.Unlock()
	return sh.m[name]
}

func (s *kaleStates) put(name string, st *metricState) {
	sh := s.shard(name)
	sh.Lock()
	sh.m[name] = st
	sh.Unlock()
}

// sweep forgets the metrics not assigned in cycle (gone from Redis or moved to another
// analyzer) and counts the states left, and of those the young and the changed ones.
func (s *kaleStates) sweep(cycle uint32) (all, young, dirty int) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.Lock()
		for name, ms := range sh.m {
			if ms.seen != cycle {
				delete(sh.m, name)
				continue
			}
			if ms.flags&stateYoung != 0 {
				young++
			}
			if ms.flags&stateDirty != 0 {
				dirty++
			}
		}
		all += len(sh.m)
		sh.Unlock()
	}
	return all, young, dirty
}

// State envelope in Redis (kale.state.<name>): stateMagic, flags (stateYoung), the last fed
// timestamp (float64, big endian), the stored point count (uint32, big endian), the length
// of the last stored pair read and its bytes, then algorithms.Kale's MarshalBinary. The
// previous envelope (8 bytes of the last fed timestamp, then the detector's blob, which
// starts "KALE") is still read.
const stateMagic = 0xA2

// stateHeader is the fixed part of the envelope before the pair bytes.
const stateHeader = 1 + 1 + 8 + 4 + 1

func encodeState(dst []byte, ms *metricState) []byte {
	dst = append(dst, stateMagic, ms.flags&stateYoung)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(ms.last))
	dst = binary.BigEndian.AppendUint32(dst, ms.points)
	dst = append(dst, ms.sigLen)
	dst = append(dst, ms.sig[:ms.sigLen]...)
	return append(dst, ms.blob...)
}

// errStateEnvelope reports a saved state whose envelope is not one the analyzer writes.
var errStateEnvelope = errors.New("not a kale state envelope")

// decodeState reads an envelope; the detector blob is copied (b belongs to the reader). The
// blob itself is checked when a worker unmarshals it.
func decodeState(b []byte) (*metricState, error) {
	ms := newMetricState()
	switch {
	case len(b) >= stateHeader && b[0] == stateMagic:
		ms.flags = b[1] & stateYoung
		ms.last = math.Float64frombits(binary.BigEndian.Uint64(b[2:10]))
		ms.points = binary.BigEndian.Uint32(b[10:14])
		n := int(b[14])
		if n > maxSig || len(b) < stateHeader+n {
			return nil, fmt.Errorf("%w: pair of %d bytes", errStateEnvelope, n)
		}
		ms.setSig(b[stateHeader : stateHeader+n])
		b = b[stateHeader+n:]
	case len(b) >= 12 && string(b[8:12]) == "KALE": // the envelope before tail reads
		ms.last = math.Float64frombits(binary.BigEndian.Uint64(b[:8]))
		b = b[8:]
	default:
		return nil, errStateEnvelope
	}
	if math.IsNaN(ms.last) {
		return nil, fmt.Errorf("%w: NaN timestamp", errStateEnvelope)
	}
	ms.newest = ms.last
	ms.blob = append(make([]byte, 0, len(b)), b...)
	return ms, nil
}

// stateTTL is how long a saved state outlives its last checkpoint: a metric silent for
// longer has been purged by Roomba anyway.
func (a *Analyzer) stateTTL() time.Duration {
	if ttl := a.cfg.Settings.FullDuration; ttl > 0 {
		return ttl
	}
	return 24 * time.Hour
}

// checkpointBatch bounds the states of one pipelined write.
const checkpointBatch = 256

// checkpoint writes changed states to Redis in pipelined batches: at least limit of them
// (limit <= 0: all), and more until deadline (zero: none more). It starts where the previous
// checkpoint stopped, so every changed state is written within a few calls. It must not run
// beside a cycle.
func (a *Analyzer) checkpoint(ctx context.Context, limit int, deadline time.Time) (int, error) {
	if a.states == nil {
		return 0, nil
	}
	s := a.states
	saved := 0
	batch := make(map[string][]byte, checkpointBatch)
	var picked []*metricState
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := a.kaleStore.SaveStates(ctx, batch, a.stateTTL()); err != nil {
			return err
		}
		for _, ms := range picked {
			ms.flags &^= stateDirty
		}
		saved += len(batch)
		clear(batch)
		picked = picked[:0]
		return nil
	}
	for i := 0; i < len(s.shards); i++ {
		sh := &s.shards[(s.cursor+i)%len(s.shards)]
		sh.Lock()
		full := false
		for name, ms := range sh.m {
			if ms.flags&stateDirty == 0 || ms.blob == nil {
				continue
			}
			if limit > 0 && saved+len(batch) >= limit && !time.Now().Before(deadline) {
				full = true
				break
			}
			batch[name] = encodeState(make([]byte, 0, stateHeader+int(ms.sigLen)+len(ms.blob)), ms)
			picked = append(picked, ms)
			if len(batch) == checkpointBatch {
				sh.Unlock()
				if err := flush(); err != nil {
					return saved, err
				}
				sh.Lock()
			}
		}
		sh.Unlock()
		if full {
			s.cursor = (s.cursor + i) % len(s.shards) // resume in this shard
			return saved, flush()
		}
	}
	return saved, flush()
}

// SaveStates writes every changed detector state to Redis (on shutdown, after the last
// checkpoint), so a restart resumes instead of re-learning. States expire after
// FullDuration.
func (a *Analyzer) SaveStates(ctx context.Context) (int, error) {
	return a.checkpoint(ctx, 0, time.Time{})
}

// stateLoads counts, for the cycle summary, how metrics first seen by this process got
// their detector: resumed from a saved state or re-learnt from the stored series.
type stateLoads struct {
	loaded, fresh, incompatible, loadErrors int
	otherVersion                            int    // of incompatible: written by another detector version
	reason                                  string // the first incompatibility
}

func (l *stateLoads) add(o stateLoads) {
	l.loaded += o.loaded
	l.fresh += o.fresh
	l.incompatible += o.incompatible
	l.loadErrors += o.loadErrors
	l.otherVersion += o.otherVersion
	if l.reason == "" {
		l.reason = o.reason
	}
}

func (l *stateLoads) incompatibleState(err error) {
	l.incompatible++
	if errors.Is(err, algorithms.ErrKaleStateVersion) {
		l.otherVersion++
	}
	if l.reason == "" {
		l.reason = err.Error()
	}
}

// loadStates returns the state of each of names (index-aligned), creating the states of
// metrics first seen by this process from their saved state when there is one. Every
// returned state is stamped with cycle.
func (a *Analyzer) loadStates(ctx context.Context, names []string, cycle uint32, out *workerOut) []*metricState {
	mss := make([]*metricState, len(names))
	var missing []string
	var at []int
	for i, n := range names {
		if ms := a.states.get(n); ms != nil {
			ms.seen = cycle
			mss[i] = ms
			continue
		}
		missing = append(missing, n)
		at = append(at, i)
	}
	if len(missing) == 0 {
		return mss
	}
	saved, err := a.kaleStore.LoadStates(ctx, missing)
	if err != nil {
		if ctx.Err() == nil {
			a.m.errors.WithLabelValues(errState).Inc()
		}
		out.loads.loadErrors += len(missing) // re-learnt from the series instead
		saved = nil
	}
	for j, n := range missing {
		ms := newMetricState()
		if b, ok := saved[n]; ok {
			if s, err := decodeState(b); err == nil {
				ms = s
				ms.flags |= stateLoaded
				out.loads.loaded++
			} else {
				out.errors++
				a.m.errors.WithLabelValues(errState).Inc()
				out.loads.incompatibleState(err)
			}
		} else if err == nil {
			out.loads.fresh++
		}
		ms.seen = cycle
		a.states.put(n, ms)
		mss[at[j]] = ms
	}
	return mss
}
