package recordstore

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
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
	// Phase names the seasonal phase of a seasonal or level anomaly ("Mondays 03:00",
	// "daily 03:00", UTC); empty for the other components.
	Phase string `json:"phase,omitempty"`
}

// CycleStats describes one analyzer cycle.
type CycleStats struct {
	Started   time.Time `json:"started"`
	DurationS float64   `json:"duration_s"`
	Metrics   int       `json:"metrics"`
	Analysed  int       `json:"analysed"`
	Anomalies int       `json:"anomalies"`
	// AnomaliesNew were found in this cycle's points; AnomaliesCarried were found in an
	// earlier cycle and are still current (the kale detector scores each point once and
	// keeps reporting its anomaly while the point is recent; Skyline's ensemble re-judges
	// every window, so all its anomalies are new). They add up to Anomalies.
	AnomaliesNew     int            `json:"anomalies_new"`
	AnomaliesCarried int            `json:"anomalies_carried"`
	Exceptions       map[string]int `json:"exceptions"`
	// Triggers counts each detector's anomalous votes in this cycle, carried-over anomalies
	// included, so they add up to at least Anomalies.
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

// Feedback marks one anomaly of a metric as not anomalous.
type Feedback struct {
	Timestamp int64    `json:"timestamp"`
	Value     Float    `json:"value"`
	Triggered []string `json:"triggered"`
	Created   int64    `json:"created"`
}

// MemberInfo is the value of an analyzer's lease key (for operators: who is sharing cycles).
type MemberInfo struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
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
		c.AnomaliesNew += s.AnomaliesNew
		c.AnomaliesCarried += s.AnomaliesCarried
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
