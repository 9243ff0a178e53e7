package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/tools/importer"
)

const importHelp = `Usage:
  kale import [--redis URL] [--metric NAME] [--step SECONDS] [--format csv|jsonl] FILE...

Bulk-loads series into the store (metrics.<name> and metrics.unique_metrics, plus mini.<name>
with --mini), where the analyzer and oculus find them. Flags and FILEs may come in any order;
FILE "-" reads standard input (needs --format).

  CSV          timestamp,value rows, with or without a header row; timestamps are unix
               seconds or YYYY-MM-DD HH:MM:SS (UTC). The metric is --metric or the file name
               without its extension.
  JSON lines   {"metric":"a.b","points":[[ts,v],...]} or {"metric":"a.b","values":[v,...]}
               (values are spaced by --step, the last one at now); a line without "metric"
               uses --metric.

The format comes from the extension (.csv; .jsonl, .json, .ndjson) unless --format says
otherwise. Metric names follow horizon's rule (A-Z a-z 0-9 . _ - : ; = + % @ ~ # / ,);
values must be finite. Errors name the file and line; points of earlier batches stay
written. Roomba purges series whose newest point is older than --full-duration, so import
recent timestamps (or "values", which end now) into a running kale.

Flags of kale import:
`

// importFlags are kale import's own flags (the configuration flags come from config.Bind).
type importFlags struct {
	metric, format string
	step           time.Duration
}

func (f *importFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.metric, "metric", "", "metric of CSV files (default: the file name without extension) and of JSON lines without \"metric\"")
	fs.StringVar(&f.format, "format", "", "input format, csv or jsonl (default: from each file's extension)")
	f.step = importer.DefaultStep
	fs.Func("step", "spacing of the \"values\" form of JSON lines, in seconds or as a duration (default 60)", positiveDuration("step", &f.step))
}

// runImport is `kale import`.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f importFlags
	r, _, files, err := parseWithPositional("import", args, stderr, importHelp, f.define)
	if err != nil {
		return err
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stderr, "kale import: warning: %s\n", w)
	}
	if len(files) == 0 {
		return fmt.Errorf("%w: want at least one FILE (kale import -h)", errUsage)
	}
	if r.Redis == "embedded" {
		return fmt.Errorf("%w: --redis embedded would load the data into a new, throwaway in-memory server; "+
			"pass the Redis of the running kale (e.g. --redis redis://127.0.0.1:6379/0)", errUsage)
	}
	switch f.format {
	case "", importer.CSV, importer.JSONL, "json", "ndjson":
	default:
		return fmt.Errorf("%w: --format %q is not csv or jsonl", errUsage, f.format)
	}
	store, err := redisstore.Open(r.Redis, redisstore.Options{FullNamespace: r.FullNamespace, MiniNamespace: r.MiniNamespace})
	if err != nil {
		return err
	}
	defer store.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = store.Ping(pctx)
	cancel()
	if err != nil {
		return err
	}
	sum, err := importer.Run(ctx, files, importer.Options{
		Store: store, Metric: f.metric, Format: f.format, Step: f.step,
		Mini: r.Mini, MiniDuration: r.MiniDuration, MaxNameLength: r.MaxNameLength, Progress: stderr,
	})
	fmt.Fprintln(stdout, sum.String())
	if err != nil {
		return fmt.Errorf("cannot finish the import: %w", err)
	}
	return nil
}
