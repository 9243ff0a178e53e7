package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kale-project/kale/utils/tools/searchload"
)

// runSearchLoad is `kale searchload`: search latency through the HTTP API of a Kale process
// it starts on a real Redis, with the analyzer running (issue #13's check).
func runSearchLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := searchload.Defaults()
	var extra string
	var asJSON bool
	fs := flag.NewFlagSet("kale searchload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Redis, "redis", "", "URL of a real Redis (redis://host:port/db); the series are written there")
	exe, _ := os.Executable()
	fs.StringVar(&o.Kale, "kale", exe, "the kale binary to start")
	fs.StringVar(&o.Command, "command", o.Command, "what to start: all (the analyzer runs) or webapp (no analyzer)")
	fs.StringVar(&o.Webapp, "webapp", "", "address for the started process's API (default: a free loopback port)")
	fs.IntVar(&o.Series, "series", o.Series, "series to write and search")
	fs.IntVar(&o.Points, "points", o.Points, "points per series")
	fs.DurationVar(&o.Step, "step", o.Step, "spacing of the points")
	fs.BoolVar(&o.Seed, "seed", o.Seed, "write the series that do not exist yet (false: search what the Redis holds under the same names)")
	fs.IntVar(&o.Searches, "searches", o.Searches, "searches to send")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "searches per second (sent one at a time)")
	fs.IntVar(&o.K, "k", o.K, "results per search")
	fs.IntVar(&o.Check, "check", o.Check, "searches compared with a brute-force scan of Redis")
	fs.DurationVar(&o.Wait, "wait", o.Wait, "longest wait for the index to hold every series")
	fs.StringVar(&extra, "args", "", "extra arguments for the started process, space-separated")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.Redis == "" {
		return fmt.Errorf("%w: --redis is required (a real Redis: the started process and this command both use it)", errUsage)
	}
	o.Args = strings.Fields(extra)
	o.Log = stderr
	rep, err := searchload.Run(ctx, o)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printSearchLoad(stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Checked > 0 && rep.Exact != rep.Checked {
		return fmt.Errorf("%d of %d checked searches differ from brute force", rep.Checked-rep.Exact, rep.Checked)
	}
	return nil
}

func printSearchLoad(w io.Writer, r searchload.Report) {
	fmt.Fprintf(w, "kale %s, %d series × %d points; index ready after %.1fs\n", r.Command, r.Series, r.Points, r.IndexWait)
	row := func(label string, l searchload.Latency) {
		fmt.Fprintf(w, "  %-26s n=%-4d p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", label, l.N, l.P50, l.P90, l.P99, l.Max)
	}
	row("all searches", r.All)
	row("took_ms (server side)", r.Server)
	row("during an analyzer cycle", r.DuringCycle)
	row("outside analyzer cycles", r.OutsideCycle)
	fmt.Fprintf(w, "  analyzer cycles seen: %d; failed searches: %d\n", len(r.Cycles), r.Failed)
	fmt.Fprintf(w, "  brute force: %d of %d equal\n", r.Exact, r.Checked)
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "    %s\n", m)
	}
	fmt.Fprintf(w, "  process CPU %.1f ms per search; RSS %.0f MB, peak %.0f MB\n", r.CPUPerSearch, r.RSSMB, r.PeakRSSMB)
}
