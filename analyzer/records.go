package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kale's analyzer state in Redis (every key is documented in README.md).
const (
	KeyCurrent      = "kale.anomalies.current" // string: the /api/v1/anomalies document of the last cycle
	KeyCycle        = "kale.analyzer.cycle"    // string: JSON CycleStats of the last completed cycle
	KeyDump         = "kale.anomalies.dump"    // string: Skyline's anomalies.json (handle_data(...))
	KeyHistory      = "kale.anomalies.history" // sorted set: every anomaly record, scored by its timestamp
	KeyMetricPrefix = "kale.anomalies.metric." // sorted set per metric: that metric's anomaly records
)

// Float is a float64 that encodes NaN and ±Inf as JSON null instead of failing.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// Record is one anomaly: the metric (without namespace), its last value and timestamp, the
// detectors that voted anomalous and the share of detectors that did.
type Record struct {
	Metric      string       `json:"metric"`
	Value       Float        `json:"value"`
	Timestamp   int64        `json:"timestamp"`
	Triggered   []string     `json:"triggered"`
	Score       Float        `json:"score"`
	Explanation *Explanation `json:"explanation,omitempty"`
	// Suppressed: the same pattern was marked not anomalous (kale.feedback.<name>); the
	// record is kept but not alerted.
	Suppressed bool `json:"suppressed,omitempty"`
}

// Explanation says why the kale detector fired: which component, the value it expected and
// the band it considered normal.
type Explanation struct {
	Component string `json:"component"`
	Expected  Float  `json:"expected"`
	Lower     Float  `json:"lower"`
	Upper     Float  `json:"upper"`
}

// CycleStats describes one analyzer cycle.
type CycleStats struct {
	Started    time.Time      `json:"started"`
	DurationS  float64        `json:"duration_s"`
	Metrics    int            `json:"metrics"`
	Analysed   int            `json:"analysed"`
	Anomalies  int            `json:"anomalies"`
	Exceptions map[string]int `json:"exceptions"`
	Triggers   map[string]int `json:"triggers"`
	Errors     int            `json:"errors"`
	Suppressed int            `json:"suppressed"` // anomalies not alerted because of operator feedback
	// Assigned is the number of metrics this analyzer owned among Instances live analyzers
	// (Metrics when it runs alone); in the merged document, the sum over the analyzers.
	Assigned  int    `json:"assigned"`
	Instances int    `json:"analyzers,omitempty"`
	Instance  string `json:"analyzer,omitempty"` // the analyzer id; empty in a merge of several
}

// Current is the document served by /api/v1/anomalies.
type Current struct {
	Anomalies []Record   `json:"anomalies"`
	Cycle     CycleStats `json:"cycle"`
}

// Dump renders Skyline's anomalies.json: a JavaScript call handle_data([[value, "name"], …])
// sorted by name. Names are JSON strings (valid JavaScript, unlike Python's repr).
func Dump(recs []Record) string {
	sorted := append([]Record(nil), recs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Metric < sorted[j].Metric })
	var b strings.Builder
	b.WriteString("handle_data([")
	for i, r := range sorted {
		if i > 0 {
			b.WriteString(", ")
		}
		v, _ := r.Value.MarshalJSON()
		name, _ := json.Marshal(r.Metric)
		fmt.Fprintf(&b, "[%s, %s]", v, name)
	}
	b.WriteString("])")
	return b.String()
}

// save writes the cycle's records: this analyzer's part of the current document and its
// records in the bounded global and per-metric histories, in one pipeline; then the merge of
// every live member's part as the current document, the Skyline dump and the cycle stats.
func (a *Analyzer) save(ctx context.Context, st CycleStats, recs []Record, members []string) error {
	part, err := json.Marshal(Current{Anomalies: recs, Cycle: st})
	if err != nil {
		return fmt.Errorf("cannot encode the anomaly document: %w", err)
	}
	horizon := strconv.FormatInt(st.Started.Add(-a.cfg.AnomalyHistory).Unix(), 10)
	pipe := a.rdb.Pipeline()
	pipe.Set(ctx, KeyCurrentPrefix+a.cfg.ID, part, partTTL)
	for _, r := range recs {
		member, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("cannot encode the anomaly of %q: %w", r.Metric, err)
		}
		z := redis.Z{Score: float64(r.Timestamp), Member: member}
		pipe.ZAdd(ctx, KeyHistory, z)
		mk := KeyMetricPrefix + r.Metric
		pipe.ZAdd(ctx, mk, z)
		pipe.ZRemRangeByScore(ctx, mk, "-inf", "("+horizon)
		pipe.Expire(ctx, mk, a.cfg.AnomalyHistory)
	}
	pipe.ZRemRangeByScore(ctx, KeyHistory, "-inf", "("+horizon)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot store the anomaly records: %w", err)
	}
	// Analyzers sharing cycles finish at about the same time: the merged document is written
	// in a transaction watching it, so a merge made from stale parts never overwrites a newer
	// one (the loser re-reads the parts and merges again). KeyCycle and KeyDump follow the
	// merge that won; they are derived views, repaired by the next cycle if two writers race.
	var merged Current
	for attempt := 0; ; attempt++ {
		err := a.rdb.Watch(ctx, func(tx *redis.Tx) error {
			var err error
			if merged, err = a.merge(ctx, Current{Anomalies: recs, Cycle: st}, members); err != nil {
				return err
			}
			cur, err := json.Marshal(merged)
			if err != nil {
				return fmt.Errorf("cannot encode the anomaly document: %w", err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, KeyCurrent, cur, 0)
				return nil
			})
			return err
		}, KeyCurrent)
		if err == nil {
			break
		}
		if !errors.Is(err, redis.TxFailedErr) || attempt == 9 {
			return fmt.Errorf("cannot store the merged anomaly document: %w", err)
		}
	}
	cyc, err := json.Marshal(merged.Cycle)
	if err != nil {
		return fmt.Errorf("cannot encode the cycle stats: %w", err)
	}
	dump := Dump(merged.Anomalies)
	pipe = a.rdb.Pipeline()
	pipe.Set(ctx, KeyCycle, cyc, 0)
	pipe.Set(ctx, KeyDump, dump, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot store the merged anomaly document: %w", err)
	}
	if a.cfg.AnomalyDump != "" {
		if err := writeFileAtomic(a.cfg.AnomalyDump, []byte(dump)); err != nil {
			return err
		}
	}
	return nil
}

// merge combines own (this analyzer's part, just written) with the latest parts of the other
// live members. Each analyzer merges after its own cycle, so the document is at most one
// cycle behind for each member's share; a part that is missing (a member that has not
// finished a cycle yet) or unreadable is left out until the next merge.
func (a *Analyzer) merge(ctx context.Context, own Current, members []string) (Current, error) {
	parts := []Current{own}
	var others []string
	for _, m := range members {
		if m != a.cfg.ID {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		pipe := a.rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(others))
		for i, m := range others {
			gets[i] = pipe.Get(ctx, KeyCurrentPrefix+m)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return Current{}, fmt.Errorf("cannot read the other analyzers' anomaly documents: %w", err)
		}
		for _, g := range gets {
			var c Current
			if b, err := g.Bytes(); err == nil && json.Unmarshal(b, &c) == nil {
				parts = append(parts, c)
			}
		}
	}
	return MergeCurrent(parts), nil
}

// MergeCurrent combines the current documents of several analyzers sharing cycles: the
// anomalies of all, sorted by metric; cycle counts summed, the earliest start, the longest
// duration and the largest metric count. One document is returned as it is.
func MergeCurrent(parts []Current) Current {
	if len(parts) == 1 {
		return parts[0]
	}
	out := Current{Anomalies: []Record{}, Cycle: CycleStats{Exceptions: map[string]int{}, Triggers: map[string]int{}}}
	c := &out.Cycle
	for i, p := range parts {
		out.Anomalies = append(out.Anomalies, p.Anomalies...)
		s := p.Cycle
		if i == 0 || s.Started.Before(c.Started) {
			c.Started = s.Started
		}
		c.DurationS = math.Max(c.DurationS, s.DurationS)
		c.Metrics = max(c.Metrics, s.Metrics)
		c.Assigned += s.Assigned
		c.Analysed += s.Analysed
		c.Anomalies += s.Anomalies
		c.Errors += s.Errors
		c.Suppressed += s.Suppressed
		for k, v := range s.Exceptions {
			c.Exceptions[k] += v
		}
		for k, v := range s.Triggers {
			c.Triggers[k] += v
		}
	}
	c.Instances = len(parts)
	sort.Slice(out.Anomalies, func(i, j int) bool { return out.Anomalies[i].Metric < out.Anomalies[j].Metric })
	return out
}

// writeFileAtomic replaces path so a reader never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".anomalies-*.json")
	if err != nil {
		return fmt.Errorf("cannot write the anomaly dump %q: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write the anomaly dump %q: %v %v", path, werr, cerr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write the anomaly dump %q: %w", path, err)
	}
	return nil
}

// LoadCurrent reads the last cycle's anomaly document (for the webapp and tests): with
// several analyzers sharing cycles, the merge of their parts written by the last of them to
// finish a cycle. A store that has never seen a cycle gives an empty document.
func LoadCurrent(ctx context.Context, rdb redis.UniversalClient) (Current, error) {
	var c Current
	b, err := rdb.Get(ctx, KeyCurrent).Bytes()
	if err == redis.Nil {
		return Current{Anomalies: []Record{}}, nil
	}
	if err != nil {
		return c, fmt.Errorf("cannot read %s: %w", KeyCurrent, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("cannot decode %s: %w", KeyCurrent, err)
	}
	return c, nil
}
