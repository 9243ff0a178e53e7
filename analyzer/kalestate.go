package analyzer

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer/statestore"
)

// KeyStatePrefix prefixes the saved kale detector state of each metric: 8 bytes of the last
// fed timestamp (float64, big endian) followed by algorithms.Kale's MarshalBinary.
const KeyStatePrefix = statestore.KeyStatePrefix

// States keeps the kale detector states between runs; *statestore.Store implements it.
type States interface {
	// LoadStates returns the saved state of each of names that has one.
	LoadStates(ctx context.Context, names []string) (map[string][]byte, error)
	// SaveStates writes states by metric name, each expiring after ttl.
	SaveStates(ctx context.Context, states map[string][]byte, ttl time.Duration) error
}

// kaleState is one metric's streaming detector, the newest timestamp it has seen and its
// latest anomaly, which stays current while its point is recent.
type kaleState struct {
	k       *algorithms.Kale
	last    float64
	anomaly *Record
}

// kaleStates holds every metric's detector between cycles, sharded to keep workers apart.
type kaleStates struct {
	seed   maphash.Seed
	shards [64]struct {
		sync.Mutex
		m map[string]*kaleState
	}
}

func newKaleStates() *kaleStates {
	s := &kaleStates{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[string]*kaleState{}
	}
	return s
}

func (s *kaleStates) shard(name string) *struct {
	sync.Mutex
	m map[string]*kaleState
} {
	return &s.shards[maphash.String(s.seed, name)%uint64(len(s.shards))]
}

func (s *kaleStates) get(name string) *kaleState {
	sh := s.shard(name)
	sh.Lock()
	defer sh.Unlock()
	return sh.m[name]
}

func (s *kaleStates) put(name string, st *kaleState) {
	sh := s.shard(name)
	sh.Lock()
	sh.m[name] = st
	sh.Unlock()
}

// drop forgets metrics that are no longer in the unique set.
func (s *kaleStates) keep(alive map[string]bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.Lock()
		for name := range sh.m {
			if !alive[name] {
				delete(sh.m, name)
			}
		}
		sh.Unlock()
	}
}

func (st *kaleState) marshal() ([]byte, error) {
	blob, err := st.k.MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(blob)), math.Float64bits(st.last))
	return append(out, blob...), nil
}

func unmarshalKaleState(cfg algorithms.KaleConfig, b []byte) (*kaleState, error) {
	if len(b) < 8 {
		return nil, errors.New("kale state shorter than its header")
	}
	k := algorithms.NewKale(cfg)
	if err := k.UnmarshalBinary(b[8:]); err != nil {
		return nil, err
	}
	return &kaleState{k: k, last: math.Float64frombits(binary.BigEndian.Uint64(b[:8]))}, nil
}

// loadStates fetches saved states for the metrics of a chunk that have none in memory.
func (a *Analyzer) loadStates(ctx context.Context, names []string) map[string][]byte {
	var missing []string
	for _, n := range names {
		if a.states.get(n) == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	saved, err := a.kaleStore.LoadStates(ctx, missing)
	if err != nil {
		if ctx.Err() == nil {
			a.m.errors.WithLabelValues(errState).Inc()
		}
		return nil // rebuilt from the series instead
	}
	return saved
}

// SaveStates writes every metric's detector state to Redis (on shutdown), so a restart
// resumes instead of re-learning from the stored series. States expire after FullDuration.
func (a *Analyzer) SaveStates(ctx context.Context) (int, error) {
	if a.states == nil {
		return 0, nil
	}
	ttl := a.cfg.Settings.FullDuration
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	saved := 0
	for i := range a.states.shards {
		sh := &a.states.shards[i]
		sh.Lock()
		blobs := make(map[string][]byte, len(sh.m))
		for name, st := range sh.m {
			b, err := st.marshal()
			if err != nil {
				continue
			}
			blobs[name] = b
		}
		sh.Unlock()
		if err := a.kaleStore.SaveStates(ctx, blobs, ttl); err != nil {
			return saved, err
		}
		saved += len(blobs)
	}
	return saved, nil
}

// analyseKale feeds the points newer than the metric's state to its streaming detector and
// records an anomaly at the first of them, no older than the stale period, that scores at
// least the threshold. Older points (a backlog on first sight, after a restart without saved state)
// only train the detector: the analyzer reports what is anomalous now, as Skyline did.
func (a *Analyzer) analyseKale(name string, series []algorithms.Point, now float64, saved []byte, out *workerOut) {
	if len(series) == 0 || len(series) < a.cfg.Settings.MinTolerableLength {
		out.exceptions[TooShort]++
		return
	}
	last := series[len(series)-1]
	if now-last.Timestamp > a.cfg.Settings.StalePeriod.Seconds() {
		out.exceptions[Stale]++
		return
	}
	st := a.states.get(name)
	if st == nil && saved != nil {
		if s, err := unmarshalKaleState(a.cfg.Kale, saved); err == nil {
			st = s
		} else {
			out.errors++ // a stale or corrupt state: rebuilt from the series below
			a.m.errors.WithLabelValues(errState).Inc()
		}
	}
	if st != nil && !(st.last <= now+a.cfg.MaxFuture.Seconds()) {
		// The state has fed a point stamped far ahead (saved before such points were
		// ignored): every real point is older than it and would be skipped. Start afresh.
		st = nil
	}
	if st == nil {
		st = &kaleState{k: algorithms.NewKale(a.cfg.Kale), last: math.Inf(-1)}
	}
	a.states.put(name, st)
	out.analysed++
	var best algorithms.KaleScore
	recent := now - a.cfg.Settings.StalePeriod.Seconds()
	for _, p := range series {
		if p.Timestamp <= st.last || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			continue
		}
		sc := st.k.Update(p.Timestamp, p.Value)
		st.last = p.Timestamp
		// The first point over the threshold marks the onset; later ones are its aftermath.
		// sc names the anomalous point: a peak is confirmed by the point after it.
		if sc.Timestamp >= recent && sc.Score >= a.cfg.KaleThreshold && best.Score == 0 {
			best = sc
		}
	}
	fresh := best.Score > 0
	if fresh {
		st.anomaly = &Record{
			Metric: name, Value: Float(best.Value), Timestamp: int64(best.Timestamp),
			Triggered: []string{"kale:" + best.Component}, Score: Float(best.Score),
			Explanation: &Explanation{Component: best.Component, Expected: Float(best.Expected),
				Lower: Float(best.Lower), Upper: Float(best.Upper)},
		}
	}
	// A metric stays anomalous while its anomalous point is recent, new points or not (the
	// streaming detector scores each point once; Skyline re-judged the whole window).
	// It counts as a trigger in every cycle that reports it, as a Skyline anomaly counts in
	// every cycle its detectors vote for it; fresh tells a new one from one carried over.
	if st.anomaly != nil && float64(st.anomaly.Timestamp) >= recent {
		out.records = append(out.records, *st.anomaly)
		out.triggers[0]++
		if fresh {
			out.fresh++
		}
	} else {
		st.anomaly = nil
	}
}
