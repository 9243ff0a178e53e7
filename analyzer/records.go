package analyzer

import (
	"context"
	"encoding/json"
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

// save writes the cycle's records: the current document, the Skyline dump, the cycle stats,
// and the bounded global and per-metric histories, in one pipeline.
func (a *Analyzer) save(ctx context.Context, st CycleStats, recs []Record) error {
	cur, err := json.Marshal(Current{Anomalies: recs, Cycle: st})
	if err != nil {
		return fmt.Errorf("cannot encode the anomaly document: %w", err)
	}
	cyc, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("cannot encode the cycle stats: %w", err)
	}
	dump := Dump(recs)
	horizon := strconv.FormatInt(st.Started.Add(-a.cfg.AnomalyHistory).Unix(), 10)
	pipe := a.rdb.Pipeline()
	pipe.Set(ctx, KeyCurrent, cur, 0)
	pipe.Set(ctx, KeyCycle, cyc, 0)
	pipe.Set(ctx, KeyDump, dump, 0)
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
	if a.cfg.AnomalyDump != "" {
		if err := writeFileAtomic(a.cfg.AnomalyDump, []byte(dump)); err != nil {
			return err
		}
	}
	return nil
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

// LoadCurrent reads the last cycle's anomaly document (for the webapp and tests). A store
// that has never seen a cycle gives an empty document.
func LoadCurrent(ctx context.Context, rdb *redis.Client) (Current, error) {
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
