// Command gen writes one seasonal set (see package seasonal) in NAB's layout:
//
//	go run ./utils/eval/seasonal/gen -seed 1 -out /tmp/seasonal1
//	kale detect --labels /tmp/seasonal1/labels/combined_windows.json --out /tmp/out /tmp/seasonal1/data
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kale-project/kale/utils/eval/seasonal"
)

func main() {
	o := seasonal.DefaultOptions(1)
	out := flag.String("out", "", "folder to write data/ and labels/ into")
	flag.Uint64Var(&o.Seed, "seed", o.Seed, "random seed: each seed is a new set")
	flag.IntVar(&o.Days, "days", o.Days, "days per series")
	flag.IntVar(&o.PerKind, "per-kind", o.PerKind, "anomalous series per anomaly kind")
	flag.IntVar(&o.Clean, "clean", o.Clean, "series without anomaly")
	flag.IntVar(&o.Interval, "interval", o.Interval, "seconds between rows")
	flag.StringVar(&o.Style, "style", o.Style, `"" (default) or "weekday" (a second, independently designed style: weekday factors, whole-day weekends, additive or Poisson noise, some series with two anomalies)`)
	flag.IntVar(&o.Series, "series", o.Series, "series of the weekday style")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen: want -out DIR")
		os.Exit(2)
	}
	set, err := seasonal.Generate(o)
	if err == nil {
		err = seasonal.WriteNAB(*out, set)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("gen: %d series into %s\n", len(set), *out)
}
