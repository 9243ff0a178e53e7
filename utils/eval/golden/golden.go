// Package golden is the offline twin of the analyzer's Skyline ensemble for `kale detect
// --cases`: it reads golden-case files (JSON lines in the format of shared/golden, see
// its README.md) and evaluates each case the way Etsy's harness called
// run_selected_algorithm. It replaces no part of Skyline (Etsy's checks lived in a
// Python harness that is not shipped); it exists so that anyone can compare Kale's
// detectors with Etsy's recorded verdicts.
//
// A case line is an object with
//
//	id        string, required
//	now       number (unix seconds, int or float), required: the value of time()
//	settings  optional object: FULL_DURATION, STALE_PERIOD (seconds), MIN_TOLERABLE_LENGTH,
//	          MAX_TOLERABLE_BOREDOM, BOREDOM_SET_SIZE, CONSENSUS, ALGORITHMS, and
//	          ENABLE_SECOND_ORDER (accepted only when false); each key present overrides the
//	          evaluator's base settings for that case
//	series    [[timestamp, value], ...], required (may be empty); a value may also be the
//	          string "NaN", "Infinity" or "-Infinity"
//
// Every other field (the recorded verdicts of a golden file) is ignored. Files are read one
// line at a time, so they may be larger than memory; blank lines are skipped. Run (run.go)
// evaluates a whole file concurrently and writes the results in input order.
package golden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/kale-project/kale/algorithms"
)

// Case is one input case.
type Case struct {
	ID string
	// Line is the 1-based line of the case in its file (0 when not read by a Reader).
	Line int
	// Now is the unix time time() returned for the case.
	Now float64
	// Settings holds the case's own settings, nil when it has none.
	Settings *Settings
	Series   []algorithms.Point
}

// Settings are a case's own Skyline settings (settings.py names); a nil field keeps the
// base value.
type Settings struct {
	FullDuration        *float64 `json:"FULL_DURATION"`
	StalePeriod         *float64 `json:"STALE_PERIOD"`
	MinTolerableLength  *int     `json:"MIN_TOLERABLE_LENGTH"`
	MaxTolerableBoredom *int     `json:"MAX_TOLERABLE_BOREDOM"`
	BoredomSetSize      *int     `json:"BOREDOM_SET_SIZE"`
	Consensus           *int     `json:"CONSENSUS"`
	Algorithms          []string `json:"ALGORITHMS"`
	// EnableSecondOrder is accepted for completeness; true is rejected, since the
	// second-order check needs stored anomaly history that a case does not carry.
	EnableSecondOrder *bool `json:"ENABLE_SECOND_ORDER"`
}

// Apply returns base with the settings that s sets replaced.
func (s *Settings) Apply(base algorithms.Settings) algorithms.Settings {
	out := base
	out.Algorithms = append([]string(nil), base.Algorithms...)
	if s == nil {
		return out
	}
	if s.FullDuration != nil {
		out.FullDuration = seconds(*s.FullDuration)
	}
	if s.StalePeriod != nil {
		out.StalePeriod = seconds(*s.StalePeriod)
	}
	if s.MinTolerableLength != nil {
		out.MinTolerableLength = *s.MinTolerableLength
	}
	if s.MaxTolerableBoredom != nil {
		out.MaxTolerableBoredom = *s.MaxTolerableBoredom
	}
	if s.BoredomSetSize != nil {
		out.BoredomSetSize = *s.BoredomSetSize
	}
	if s.Consensus != nil {
		out.Consensus = *s.Consensus
	}
	if s.Algorithms != nil {
		out.Algorithms = append([]string(nil), s.Algorithms...)
	}
	return out
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// Reader reads cases from a JSON-lines stream, one line at a time.
type Reader struct {
	r    *bufio.Reader
	line int
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 1<<20)}
}

// Next returns the next case, or io.EOF after the last one. A line that is not a valid case
// is an error naming its line number; reading may not continue after it.
func (r *Reader) Next() (*Case, error) {
	for {
		b, err := r.r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("cannot read case after line %d: %w", r.line, err)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("cannot read case on line %d: %w", r.line+1, err)
		}
		r.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		c, perr := ParseCase(b)
		if perr != nil {
			return nil, fmt.Errorf("cannot parse case on line %d: %w", r.line, perr)
		}
		c.Line = r.line
		return c, nil
	}
}

// caseJSON is the input part of a case line; pointers tell a missing field from a zero one.
type caseJSON struct {
	ID       *string         `json:"id"`
	Now      *float64        `json:"now"`
	Settings json.RawMessage `json:"settings"`
	Series   json.RawMessage `json:"series"`
}

// ParseCase parses one case line.
func ParseCase(line []byte) (*Case, error) {
	var raw caseJSON
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, fmt.Errorf("cannot decode %s: %w", excerpt(line), err)
	}
	if raw.ID == nil {
		return nil, errors.New(`missing "id"`)
	}
	c := &Case{ID: *raw.ID}
	if raw.Now == nil {
		return nil, fmt.Errorf("case %q: missing \"now\"", c.ID)
	}
	c.Now = *raw.Now
	if len(raw.Series) == 0 || string(raw.Series) == "null" {
		return nil, fmt.Errorf("case %q: missing \"series\"", c.ID)
	}
	series, err := parseSeries(raw.Series)
	if err != nil {
		return nil, fmt.Errorf("case %q: cannot parse series: %w", c.ID, err)
	}
	c.Series = series
	if len(raw.Settings) > 0 && string(raw.Settings) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw.Settings))
		dec.DisallowUnknownFields()
		var s Settings
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("case %q: cannot parse settings %s: %w", c.ID, excerpt(raw.Settings), err)
		}
		if s.EnableSecondOrder != nil && *s.EnableSecondOrder {
			return nil, fmt.Errorf("case %q: cannot apply ENABLE_SECOND_ORDER = true: the second-order check needs stored anomaly history", c.ID)
		}
		c.Settings = &s
	}
	return c, nil
}

// parseSeries decodes [[ts, v], ...]. The fast path decodes plain numbers; the slow path
// accepts the strings "NaN", "Infinity", "-Infinity" as values and names a bad point.
func parseSeries(b []byte) ([]algorithms.Point, error) {
	var fast [][]float64
	if err := json.Unmarshal(b, &fast); err == nil {
		pts := make([]algorithms.Point, len(fast))
		for i, p := range fast {
			if len(p) != 2 {
				return nil, fmt.Errorf("point %d has %d elements, want [timestamp, value]", i, len(p))
			}
			pts[i] = algorithms.Point{Timestamp: p[0], Value: p[1]}
		}
		return pts, nil
	}
	var slow []json.RawMessage
	if err := json.Unmarshal(b, &slow); err != nil {
		return nil, fmt.Errorf("cannot decode %s as a list of points: %w", excerpt(b), err)
	}
	pts := make([]algorithms.Point, len(slow))
	for i, raw := range slow {
		var p []json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
			return nil, fmt.Errorf("point %d %s is not [timestamp, value]", i, excerpt(raw))
		}
		if err := json.Unmarshal(p[0], &pts[i].Timestamp); err != nil {
			return nil, fmt.Errorf("point %d: cannot parse timestamp %s", i, excerpt(p[0]))
		}
		v, err := parseNumber(p[1])
		if err != nil {
			return nil, fmt.Errorf("point %d: %w", i, err)
		}
		pts[i].Value = v
	}
	return pts, nil
}

func parseNumber(b []byte) (float64, error) {
	switch string(b) {
	case `"NaN"`:
		return math.NaN(), nil
	case `"Infinity"`:
		return math.Inf(1), nil
	case `"-Infinity"`:
		return math.Inf(-1), nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, fmt.Errorf("cannot parse value %s", excerpt(b))
	}
	return v, nil
}

// excerpt quotes at most 60 bytes of b for an error message.
func excerpt(b []byte) string {
	const limit = 60
	if len(b) > limit {
		return strconv.Quote(string(b[:limit])) + "…"
	}
	return strconv.Quote(string(b))
}

// Verdict is one algorithm's direct verdict: Python's bool(return value), so MAD's None is
// false.
type Verdict struct {
	Algorithm string
	Anomalous bool
}

// Output is the result of one case, in the offline detection contract's shape
// (DESIGN.md, "Offline detection contract").
type Output struct {
	ID string
	// Verdicts holds each configured algorithm called directly on the series, in
	// ALGORITHMS order, even when the ensemble skipped the series; an algorithm that raised
	// (every one but least_squares and ks_test on the empty series) is absent.
	Verdicts []Verdict
	// Triggered counts the true Verdicts.
	Triggered int
	// Anomalous is run_selected_algorithm's first return value: false when it raised.
	Anomalous bool
	// Exception is "TooShort", "Stale", "Incomplete" (with RejectIncomplete) or "Boring"
	// when run_selected_algorithm raised, "AlgorithmError" when an algorithm failed under
	// AlgorithmErrorVetoes (Skyline's bare except), and "" (JSON null) otherwise.
	Exception string
}

// MarshalJSON writes {"id","verdicts":{alg:bool},"triggered","anomalous","exception"} in
// that key order, verdicts in ALGORITHMS order.
func (o Output) MarshalJSON() ([]byte, error) {
	return o.AppendJSON(nil), nil
}

// AppendJSON appends o's JSON (as MarshalJSON writes it) to b.
func (o Output) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, o.ID)
	b = append(b, `,"verdicts":{`...)
	for i, v := range o.Verdicts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v.Algorithm)
		b = append(b, ':')
		b = strconv.AppendBool(b, v.Anomalous)
	}
	b = append(b, `},"triggered":`...)
	b = strconv.AppendInt(b, int64(o.Triggered), 10)
	b = append(b, `,"anomalous":`...)
	b = strconv.AppendBool(b, o.Anomalous)
	b = append(b, `,"exception":`...)
	if o.Exception == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, o.Exception)
	}
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// ExceptionName is the Skyline exception name of a skip reason returned by
// (*algorithms.Ensemble).Run: "TooShort", "Stale", "Incomplete", "Boring", "" for nil, and
// "AlgorithmError" for anything else.
func ExceptionName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, algorithms.ErrTooShort):
		return "TooShort"
	case errors.Is(err, algorithms.ErrStale):
		return "Stale"
	case errors.Is(err, algorithms.ErrIncomplete):
		return "Incomplete"
	case errors.Is(err, algorithms.ErrBoring):
		return "Boring"
	default:
		return "AlgorithmError"
	}
}

// Evaluator evaluates cases against base settings. It is safe for concurrent use.
type Evaluator struct {
	base     algorithms.Settings
	ensemble *algorithms.Ensemble
}

// NewEvaluator validates base and prepares its ensemble. To reproduce Etsy's verdicts (the
// golden files), base must carry Etsy's semantics: see algorithms.SkylineCompatSettings and
// Settings.WithEtsySemantics.
func NewEvaluator(base algorithms.Settings) (*Evaluator, error) {
	e, err := algorithms.NewEnsemble(&base)
	if err != nil {
		return nil, err
	}
	return &Evaluator{base: e.Settings(), ensemble: e}, nil
}

// Evaluate computes c's Output: the ensemble with the evaluator's settings overridden by
// c's own, run at c.Now, plus every algorithm's direct verdict.
func (ev *Evaluator) Evaluate(c *Case) (Output, error) {
	e := ev.ensemble
	if c.Settings != nil {
		cfg := c.Settings.Apply(ev.base)
		var err error
		if e, err = algorithms.NewEnsemble(&cfg); err != nil {
			return Output{}, fmt.Errorf("cannot apply the settings of case %q: %w", c.ID, err)
		}
	}
	cfg := e.Settings()
	out := Output{ID: c.ID}
	res, err := e.Run(c.Series, c.Now)
	votes := res.Votes
	if err != nil {
		// Skipped: the verdicts are still those of each algorithm called directly.
		out.Exception = ExceptionName(err)
		votes = e.Votes(c.Series, c.Now)
	} else {
		out.Anomalous = res.Anomalous
		if res.Errors > 0 && cfg.AlgorithmErrorVetoes {
			out.Exception = "AlgorithmError"
		}
	}
	out.Verdicts = make([]Verdict, 0, len(votes))
	for _, v := range votes {
		if v.Err != nil {
			continue // Python raised: no verdict
		}
		yes := v.Verdict == algorithms.Yes
		out.Verdicts = append(out.Verdicts, Verdict{Algorithm: v.Name, Anomalous: yes})
		if yes {
			out.Triggered++
		}
	}
	return out, nil
}
