package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/eval/golden"
	"github.com/kale-project/kale/utils/eval/nab"
)

const detectHelp = `Usage:
  kale detect [flags] --out DIR INPUT...    score NAB-layout CSV files (the NAB benchmark runner)
  kale detect [flags] --cases FILE.jsonl    evaluate golden cases with Skyline's ensemble

Offline detection: reads files, never Redis. Flags and INPUTs may come in any order.

NAB mode (--out). INPUT is a CSV file or a folder searched recursively for *.csv, with a
header naming the columns timestamp and value; timestamps are YYYY-MM-DD HH:MM:SS (UTC) or
unix seconds. Each file is written to DIR/<its path relative to the INPUT folder>
(DIR/<file name> for a file INPUT) with the header timestamp,value,anomaly_score, one row per
input row, timestamp and value echoed as read. The score of row i is in [0,1] and uses rows
0..i only. Files are scored concurrently (GOMAXPROCS at a time), largest first; a line per
file (rows, seconds) and a summary go to stderr. A row that cannot be parsed stops with an
error naming the file and line; a row with an empty, NaN or infinite value scores 0 and is
not shown to the detector.
  --detector skyline  Etsy Skyline's ensemble: the fraction of the --algorithms (nine by
                      default) that vote anomalous on the rows with ts > ts_i - --window,
                      run with now = ts_i (data time, not the wall clock). The window bounds
                      each row's work. It defaults to 30 days (720h): NAB's own Skyline
                      detector sees every row so far, and 30 days reproduces its published
                      scores (public half: 37.4/25.5/45.9 against 36.5/26.2/46.4) at a
                      bounded cost, while --window 24h (the FULL_DURATION Skyline's analyzer
                      kept in Redis) scores 20.5/0/28.7. A row the ensemble would skip (too short, stale,
                      boring: e.g. the first row, or --max-tolerable-boredom equal values in
                      a row) scores 0. --skyline-compat applies (with mad-none-votes, MAD's
                      None counts as a vote); --consensus does not (NAB's threshold sweep
                      plays its part).
  --detector kale     Kale's own streaming detector (the default): a context model of
                      quantised recent patterns, daily and weekly seasonal profiles in UTC
                      time buckets (each point against its phase's expectation and spread),
                      level re-baselining and record-long flat runs, scored causally row by
                      row; a peak is reported at the row after it (the row that shows it was
                      the top). The score's alarm level is 0.632 (--kale-threshold 0.63). See
                      algorithms/README.md for the method and its NAB scores.

Cases mode (--cases). FILE.jsonl ("-" for stdin) holds one case per line, as in
shared/golden: {"id", "now", "settings" (optional), "series": [[ts, v], ...]}; other fields
are ignored and a bad line is an error naming its line number. Stdout gets one JSON object
per case, in input order:
  {"id":...,"verdicts":{"<algorithm>":bool,...},"triggered":n,"anomalous":bool,"exception":"TooShort"|"Stale"|"Boring"|null}
computed with Etsy's semantics, as the golden files record it: the --skyline-compat switches
mad-none-votes, boring-equality, histogram-edges, one-sided-grubbs and algorithm-error-vetoes
are always on. verdicts holds each algorithm called directly on the series, even when the
ensemble skipped it (an algorithm that raised, e.g. on the empty series, is absent);
triggered counts the true verdicts; anomalous is run_selected_algorithm's answer (MAD's None
votes; false when an exception was raised). --algorithms, --consensus, --full-duration,
--stale-period, --min-tolerable-length, --max-tolerable-boredom and --boredom-set-size give
the settings that a case's own settings override. Progress and a summary go to stderr.

Backtest (NAB mode with labels). With --labels FILE (NAB's combined_windows.json: file
name relative to the INPUT folder -> list of [start, end] timestamps), or by default when
INPUT/../labels/combined_windows.json exists (NAB's layout: data/ and labels/ side by side),
stdout gets, per labelled file and in total, the windows with an alert (a row scoring >=
--kale-threshold), the false alarms (alerts outside every window) and false alarms per
1,000 metric-days, then NAB's standard score at that threshold; --labels none turns it off.
Use it to judge a configuration change before deploying it.

Exit status: 0 on success, 1 when an input cannot be read or scored, 2 for a usage error.

Flags of kale detect:
`

// detectFlags are kale detect's own flags. The configuration flags come from config.Bind;
// among them --detector (kale or skyline), shared with the analyzer.
type detectFlags struct {
	cases  string
	out    string
	labels string
	window time.Duration // 0: nab.DefaultWindow
}

func (f *detectFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.cases, "cases", "", "evaluate the golden cases of this JSON-lines file (\"-\": stdin) and print one JSON object per case")
	fs.StringVar(&f.out, "out", "", "NAB mode: folder receiving one scored CSV per input file")
	fs.StringVar(&f.labels, "labels", "", "NAB mode: backtest against these anomaly windows (NAB combined_windows.json; default: INPUT/../labels/combined_windows.json when it exists; \"none\": no backtest)")
	fs.Func("window", "NAB mode, skyline: score row i on the rows with ts > ts_i - window (e.g. 720h or seconds; default 30 days)", positiveDuration("window", &f.window))
}

// runDetect is `kale detect`: offline detection over NAB-layout CSV files (--out) or golden
// cases (--cases).
func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f detectFlags
	r, fs, inputs, err := parseWithPositional("detect", args, stderr, detectHelp, f.define)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, w := range r.Warnings {
		fmt.Fprintf(stderr, "kale detect: warning: %s\n", w)
	}

	if f.cases != "" {
		switch {
		case f.out != "" || len(inputs) > 0:
			return fmt.Errorf("%w: --cases and --out/INPUT are different modes; use one (kale detect -h)", errUsage)
		case set["detector"] || set["window"] || set["labels"]:
			return fmt.Errorf("%w: --detector, --window and --labels apply to NAB mode (--out), not to --cases", errUsage)
		}
		return detectCases(ctx, f.cases, settingsFromConfig(r.Config).WithEtsySemantics(), stdout, stderr)
	}
	switch {
	case f.out == "" && len(inputs) == 0:
		return fmt.Errorf("%w: want --out DIR INPUT... or --cases FILE.jsonl (kale detect -h)", errUsage)
	case f.out == "":
		return fmt.Errorf("%w: want --out DIR for the scored files", errUsage)
	case len(inputs) == 0:
		return fmt.Errorf("%w: want at least one INPUT (a CSV file or a folder of them)", errUsage)
	}
	window := f.window
	if window == 0 {
		window = nab.DefaultWindow
	}
	labels := f.labels
	if labels == "" {
		labels = nab.DefaultLabels(inputs)
	}
	if labels == "none" {
		labels = ""
	}
	opts := nab.Options{Settings: settingsFromConfig(r.Config), Window: window}
	return detectNAB(ctx, r.Detector, opts, f.out, inputs, labels, r.Config.KaleThreshold, stdout, stderr)
}

// settingsFromConfig maps the configuration onto the Skyline ensemble's settings: the
// ALGORITHMS list, CONSENSUS, the skip checks (FULL_DURATION, STALE_PERIOD,
// MIN_TOLERABLE_LENGTH, MAX_TOLERABLE_BOREDOM, BOREDOM_SET_SIZE, the Incomplete check) and
// the --skyline-compat switches (algorithms.Settings.ApplyCompat). Defaults are Kale's:
// Etsy's defects fixed unless a switch asks for them.
func settingsFromConfig(c *config.Config) algorithms.Settings {
	s := algorithms.DefaultSettings()
	s.FullDuration = c.FullDuration
	s.StalePeriod = c.StalePeriod
	s.MinTolerableLength = c.MinTolerableLength
	s.MaxTolerableBoredom = c.MaxTolerableBoredom
	s.BoredomSetSize = c.BoredomSetSize
	s.Consensus = c.Consensus
	s.Algorithms = slices.Clone(c.Algorithms)
	s.RejectIncomplete = c.RejectIncomplete
	// config.Validate has checked the names with algorithms.ValidateCompat; a list with an
	// unknown name (a Config not validated) turns no switch on.
	_ = s.ApplyCompat(c.SkylineCompat)
	return s
}

// detectNAB scores NAB-layout CSV files into outDir and, with labels, prints a backtest at
// threshold to stdout.
func detectNAB(ctx context.Context, detector string, opts nab.Options, outDir string, inputs []string,
	labels string, threshold float64, stdout, stderr io.Writer) error {
	var windows map[string][][2]string
	if labels != "" {
		w, err := nab.ReadWindows(labels)
		if err != nil {
			return err
		}
		windows = w
	}
	factory, err := nab.Lookup(detector, opts)
	if err != nil {
		// A detector that does not exist or cannot be built from these flags is a usage error.
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	jobs, err := nab.Plan(inputs, outDir)
	if err != nil {
		return err
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	fmt.Fprintf(stderr, "kale detect: detector %s, window %v: %d files, %d at a time, into %s\n",
		detector, opts.Window, len(jobs), workers, outDir)
	start := time.Now()
	rows := 0
	err = nab.Run(ctx, jobs, factory, workers, func(res nab.Result) {
		rows += res.Rows
		fmt.Fprintf(stderr, "kale detect: %s: %d rows in %.2fs\n", res.Name, res.Rows, res.Elapsed.Seconds())
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "kale detect: %d files, %d rows scored in %.2fs\n", len(jobs), rows, time.Since(start).Seconds())
	if windows == nil {
		return nil
	}
	bt, err := nab.RunBacktest(jobs, windows, threshold)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backtest at threshold %g against %s (an alert is a row with score >= threshold):\n", threshold, labels)
	for _, f := range bt.Files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintf(stdout, "  %s\n", bt.Total)
	fmt.Fprintf(stdout, "  NAB standard score at this threshold: %.2f\n", bt.NAB)
	return nil
}

// detectCases evaluates the cases of path ("-": stdin) with base and prints one JSON line
// per case to stdout, in input order (golden.Run), then a summary to stderr.
func detectCases(ctx context.Context, path string, base algorithms.Settings, stdout, stderr io.Writer) error {
	ev, err := golden.NewEvaluator(base)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("cannot read cases: %w", err)
		}
		defer f.Close()
		in = f
	}
	start := time.Now()
	sum, err := golden.Run(ctx, in, path, ev, stdout, func(n int) {
		fmt.Fprintf(stderr, "kale detect: %d cases…\n", n)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "kale detect: %d cases in %.2fs: %d anomalous; exceptions: %s\n",
		sum.Cases, time.Since(start).Seconds(), sum.Anomalous, sum.ExceptionList())
	return nil
}
