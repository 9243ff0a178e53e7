// Package importer bulk-loads series from files into the store, in Skyline's Redis layout
// (metrics.<name> plus metrics.unique_metrics, and mini.<name> when the mini namespace is on),
// so whole data sets can be searched by Oculus or analysed. It is `kale import`: Etsy's Kale
// had no such tool (Oculus only indexed what Horizon had received, and Ganglia data came in
// through scripts/ganglia_to_skyline.rb, one UDP datagram per point).
//
// Two formats are read:
//
//   - CSV: `timestamp,value` rows, with or without a header row; timestamps are unix seconds
//     (integer or decimal) or `YYYY-MM-DD HH:MM:SS` (UTC, also with a `T` or an RFC 3339
//     zone). The metric is Options.Metric or the file name without its extension.
//   - JSON lines: one object per line, `{"metric":"a.b","points":[[ts,v],…]}` or
//     `{"metric":"a.b","values":[v,…]}`; the values of the second form are spaced by
//     Options.Step, the last one at Options.Now. A line without "metric" uses Options.Metric.
//
// Points are stored through horizon/writer, the same bounded batching writer the listeners
// feed (with its bulk-loading options: points of any age, the mini copy limited to
// MiniDuration, the first failed write fatal), in batches of BatchPoints.
//
// Metric names follow Horizon's rule (metric.CheckName) and must not land on one of the
// store's own keys; values and timestamps must be finite.
// Errors name the file and line. Numbers keep their int/float type in the stored msgpack, as
// Python's msgpack would write them.
package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/horizon/writer"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// Defaults.
const (
	DefaultStep        = 60 * time.Second
	DefaultBatchPoints = 100_000
	DefaultMaxName     = 255
)

// Options configure an import.
type Options struct {
	Store         *redisstore.Store
	Metric        string        // metric of CSV input (default: file name without extension); default of JSON lines without "metric"
	Format        string        // "csv", "jsonl" or "" (from each file's extension)
	Step          time.Duration // spacing of a "values" line (default 60s)
	Now           func() time.Time
	Mini          bool          // also append to the mini namespace (points newer than Now-MiniDuration)
	MiniDuration  time.Duration // default 1h
	MaxNameLength int           // default 255
	BatchPoints   int           // points buffered before a pipelined write (default 100,000)
	Progress      io.Writer     // one line per file; nil: silent
}

// Summary describes a finished import.
type Summary struct {
	Files    int
	Metrics  int // distinct metrics written
	Points   int
	Duration time.Duration
}

func (s Summary) String() string {
	secs := s.Duration.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Points) / secs
	}
	return fmt.Sprintf("imported %d points into %d metrics from %d files in %.2f s (%.0f points/s)",
		s.Points, s.Metrics, s.Files, secs, rate)
}

// Formats.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// FormatOf returns the format of a file from its extension: .csv → csv; .jsonl, .json,
// .ndjson → jsonl.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		return CSV, nil
	case ".jsonl", ".json", ".ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension (want .csv, .jsonl or .json); pass --format", path)
}

// Run imports every file ("-" is standard input, which needs Options.Format) and writes the
// points to the store in pipelined batches. On error, points of earlier batches stay written;
// the error names the file and line.
func Run(ctx context.Context, files []string, o Options) (Summary, error) {
	if o.Store == nil {
		return Summary{}, errors.New("cannot import: no store")
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Step < 0 {
		return Summary{}, fmt.Errorf("cannot import: step %v is negative", o.Step)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MiniDuration <= 0 {
		o.MiniDuration = time.Hour
	}
	if o.MaxNameLength <= 0 {
		o.MaxNameLength = DefaultMaxName
	}
	if o.BatchPoints <= 0 {
		o.BatchPoints = DefaultBatchPoints
	}
	switch o.Format {
	case "", CSV, JSONL:
	case "json", "ndjson":
		o.Format = JSONL
	default:
		return Summary{}, fmt.Errorf("cannot import: format %q is not csv or jsonl", o.Format)
	}
	if o.Metric != "" {
		if err := metric.CheckName(o.Metric, o.MaxNameLength); err != nil {
			return Summary{}, fmt.Errorf("cannot import: --metric: %w", err)
		}
	}
	start := time.Now()
	// horizon's writer batches, encodes and appends, as it does for the listeners; the
	// importer hands it whole batches of BatchPoints, so on an error the partial batch is not
	// written and every earlier one is.
	now := o.Now()
	stats := telemetry.New(nil)
	hw := writer.New(writer.Config{
		QueueSize: 2 * o.BatchPoints, FlushPoints: o.BatchPoints, FlushInterval: time.Second,
		FullNamespace: o.Store.Options().FullNamespace, MiniNamespace: o.Store.Options().MiniNamespace,
		Mini: o.Mini, MiniWindow: o.MiniDuration, AnyAge: true, FailFast: true,
		Now: func() time.Time { return now },
	}, o.Store, stats, slog.New(slog.DiscardHandler))
	// The writer's final flush runs after ctx ends too (stop), so every batch handed over is
	// delivered or reported; ctx ends the import, and so does a failed write (the writer's Run
	// returns early and cancels ctx for the parsers and a Put waiting for room).
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	werr := make(chan error, 1)
	go func() {
		werr <- hw.Run(wctx)
		cancel()
	}()
	w := &batcher{o: o, w: hw, proto: stats.Proto("import"), metrics: map[string]bool{}}
	finish := func(sum Summary, err error) (Summary, error) {
		stop()
		if e := <-werr; e != nil {
			err = e // a failed write, and the cause of any error after it
		}
		sum.Points, sum.Metrics, sum.Duration = int(hw.Stored()), len(w.metrics), time.Since(start)
		return sum, err
	}
	var sum Summary
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return finish(sum, fmt.Errorf("cannot import %s: %w", f, err))
		}
		before, beforeMetrics := w.points, len(w.metrics)
		if err := w.file(ctx, f); err != nil {
			return finish(sum, err)
		}
		sum.Files++
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: %d points, %d new metrics\n", f, w.points-before, len(w.metrics)-beforeMetrics)
		}
	}
	if err := w.put(ctx); err != nil {
		return finish(sum, err)
	}
	return finish(sum, nil)
}

// batcher collects parsed points into batches of BatchPoints for horizon's writer.
type batcher struct {
	o       Options
	w       *writer.Writer
	proto   *telemetry.Proto
	batch   []metric.Point
	points  int // points parsed
	metrics map[string]bool
}

func (w *batcher) file(ctx context.Context, path string) error {
	format := w.o.Format
	if format == "" {
		var err error
		if format, err = FormatOf(path); err != nil {
			return err
		}
	}
	var r io.Reader
	name := path
	if path == "-" {
		if w.o.Format == "" {
			return errors.New("cannot read standard input: pass --format csv or --format jsonl")
		}
		r, name = os.Stdin, "<stdin>"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("cannot open input: %w", err)
		}
		defer f.Close()
		r = f
	}
	emit := func(mname string, ts, v metric.Number) error {
		if err := w.add(mname, ts, v); err != nil {
			return err
		}
		if len(w.batch) >= w.o.BatchPoints {
			return w.put(ctx)
		}
		return nil
	}
	switch format {
	case CSV:
		mname := w.o.Metric
		if mname == "" {
			if path == "-" {
				return errors.New("cannot import CSV from standard input without --metric")
			}
			base := filepath.Base(path)
			mname = strings.TrimSuffix(base, filepath.Ext(base))
			if err := metric.CheckName(mname, w.o.MaxNameLength); err != nil {
				return fmt.Errorf("cannot name the metric of %s after the file (pass --metric): %w", path, err)
			}
		}
		return ParseCSV(r, name, func(ts, v metric.Number) error { return emit(mname, ts, v) })
	default:
		return ParseJSONL(r, name, JSONLOptions{Metric: w.o.Metric, Step: w.o.Step, Now: w.o.Now(), MaxNameLength: w.o.MaxNameLength}, emit)
	}
}

func (w *batcher) add(mname string, ts, v metric.Number) error {
	if !w.metrics[mname] {
		if w.o.Store.ReservedName(mname) {
			return fmt.Errorf("cannot import metric %q: its key is one of the store's own", mname)
		}
		w.metrics[mname] = true
	}
	if w.batch == nil {
		w.batch = make([]metric.Point, 0, min(w.o.BatchPoints, 1<<16))
	}
	w.batch = append(w.batch, metric.Point{Name: mname, Timestamp: ts, Value: v})
	w.points++
	return nil
}

// put hands the batch to the writer (which takes ownership), waiting while it is full.
func (w *batcher) put(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	err := w.w.Put(ctx, w.proto, w.batch, true)
	w.batch = nil
	if err != nil {
		return fmt.Errorf("cannot import: %w", err)
	}
	return nil
}

// ParseCSV reads `timestamp,value` rows (a first row that is not a timestamp is a header)
// and calls emit for each. name labels errors ("file.csv:12: …").
func ParseCSV(r io.Reader, name string, emit func(ts, v metric.Number) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cr.Comment = '#'
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot parse %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != 2 {
			return fmt.Errorf("cannot parse %s:%d: want 2 fields (timestamp,value), got %d", name, line, len(rec))
		}
		ts, terr := ParseTimestamp(rec[0])
		if terr != nil && first && !looksNumeric(rec[0]) {
			first = false // a header row
			continue
		}
		first = false
		if terr != nil {
			return fmt.Errorf("cannot parse %s:%d: %w", name, line, terr)
		}
		v, err := ParseValue(rec[1])
		if err != nil {
			return fmt.Errorf("cannot parse %s:%d: %w", name, line, err)
		}
		if err := emit(ts, v); err != nil {
			return err
		}
	}
}

func looksNumeric(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && (s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))
}

// timeLayouts are the accepted date forms (UTC unless a zone is given).
var timeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999", time.RFC3339Nano}

// ParseTimestamp parses unix seconds (integer or decimal) or a date `YYYY-MM-DD HH:MM:SS`
// (UTC; `T` separator, fractional seconds and an RFC 3339 zone are accepted).
func ParseTimestamp(s string) (metric.Number, error) {
	s = strings.TrimSpace(s)
	if n, err := parseNumber(s); err == nil {
		if n.Float64() < 0 {
			return n, fmt.Errorf("timestamp %q is negative", s)
		}
		return n, nil
	} else if looksNumeric(s) && !strings.Contains(s, "-") && !strings.Contains(s, ":") {
		return n, fmt.Errorf("timestamp %w", err)
	}
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if t.Nanosecond() == 0 {
			return metric.Int(t.Unix()), nil
		}
		return metric.Float(float64(t.UnixNano()) / 1e9), nil
	}
	return metric.Number{}, fmt.Errorf("timestamp %q is neither unix seconds nor YYYY-MM-DD HH:MM:SS", s)
}

// ParseValue parses a finite number, keeping integers as integers.
func ParseValue(s string) (metric.Number, error) {
	n, err := parseNumber(strings.TrimSpace(s))
	if err != nil {
		return n, fmt.Errorf("value %w", err)
	}
	return n, nil
}

func parseNumber(s string) (metric.Number, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return metric.Int(i), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
		return metric.Number{}, fmt.Errorf("%q is out of range", s)
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) { // a denormal underflow rounds to 0 and is fine
		return metric.Number{}, fmt.Errorf("%q is not a number", s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return metric.Number{}, fmt.Errorf("%q is not finite", s)
	}
	return metric.Float(f), nil
}

// JSONLOptions configure ParseJSONL.
type JSONLOptions struct {
	Metric        string        // metric of a line without "metric"
	Step          time.Duration // spacing of "values"
	Now           time.Time     // timestamp of the last of "values"
	MaxNameLength int
}

// ParseJSONL reads JSON lines and calls emit for every point. Blank lines are skipped.
func ParseJSONL(r io.Reader, name string, o JSONLOptions, emit func(mname string, ts, v metric.Number) error) error {
	if o.Step <= 0 {
		o.Step = DefaultStep
	}
	if o.MaxNameLength <= 0 {
		o.MaxNameLength = DefaultMaxName
	}
	br := bufio.NewReaderSize(r, 1<<20)
	stepSecs := o.Step.Seconds()
	integralStep := o.Step%time.Second == 0
	now := o.Now.Unix()
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("cannot read %s:%d: %w", name, line, err)
		}
		eof := err == io.EOF
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if perr := parseJSONLine(t, o, stepSecs, integralStep, now, func(mname string, ts, v metric.Number) error {
				return emit(mname, ts, v)
			}); perr != nil {
				var ee emitError
				if errors.As(perr, &ee) {
					return ee.err
				}
				return fmt.Errorf("cannot parse %s:%d: %w", name, line, perr)
			}
		}
		if eof {
			return nil
		}
	}
}

// emitError carries an error of the emit callback (a store failure) unchanged.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

func parseJSONLine(b []byte, o JSONLOptions, stepSecs float64, integralStep bool, now int64, emit func(mname string, ts, v metric.Number) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var rec struct {
		Metric *string          `json:"metric"`
		Points *[][]json.Number `json:"points"`
		Values *[]json.Number   `json:"values"`
	}
	if err := dec.Decode(&rec); err != nil {
		return fmt.Errorf("not a JSON object {\"metric\",\"points\"|\"values\"}: %w", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	mname := o.Metric
	if rec.Metric != nil {
		mname = *rec.Metric
	}
	if mname == "" {
		return errors.New(`no "metric" (and no --metric)`)
	}
	if err := metric.CheckName(mname, o.MaxNameLength); err != nil {
		return err
	}
	switch {
	case rec.Points != nil && rec.Values != nil:
		return errors.New(`"points" and "values" are exclusive`)
	case rec.Points != nil:
		for i, p := range *rec.Points {
			if len(p) != 2 {
				return fmt.Errorf("points[%d] has %d elements, want [timestamp, value]", i, len(p))
			}
			ts, err := ParseTimestamp(p[0].String())
			if err != nil {
				return fmt.Errorf("points[%d]: %w", i, err)
			}
			v, err := ParseValue(p[1].String())
			if err != nil {
				return fmt.Errorf("points[%d]: %w", i, err)
			}
			if err := emit(mname, ts, v); err != nil {
				return emitError{err}
			}
		}
	case rec.Values != nil:
		vals := *rec.Values
		for i, raw := range vals {
			v, err := ParseValue(raw.String())
			if err != nil {
				return fmt.Errorf("values[%d]: %w", i, err)
			}
			back := len(vals) - 1 - i
			var ts metric.Number
			if integralStep {
				ts = metric.Int(now - int64(back)*int64(stepSecs))
			} else {
				ts = metric.Float(float64(now) - float64(back)*stepSecs)
			}
			if err := emit(mname, ts, v); err != nil {
				return emitError{err}
			}
		}
	default:
		return errors.New(`want "points":[[ts,v],…] or "values":[…]`)
	}
	return nil
}
