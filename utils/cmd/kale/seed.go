package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/tools/loadgen"
	"github.com/kale-project/kale/utils/tools/seed"
)

// runSeed sends the demo data set to running listeners and verifies it in Redis.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var metrics int
	var timeout time.Duration
	r, _, err := parseConfig("seed", args, stderr, nil, func(fs *flag.FlagSet) {
		fs.IntVar(&metrics, "metrics", seed.DefaultMetrics, "number of demo metrics")
		fs.DurationVar(&timeout, "verify-timeout", seed.DefaultVerifyTimeout, "how long to wait for the data to appear in Redis")
	})
	if err != nil {
		return err
	}
	if r.Redis == "embedded" {
		return fmt.Errorf("%w: kale seed verifies through Redis, and --redis embedded would start a new, empty server; "+
			"pass the Redis of the running horizon, or use 'kale all --seed'", errUsage)
	}
	store, err := redisstore.Open(r.Redis, redisstore.Options{FullNamespace: r.FullNamespace, MiniNamespace: r.MiniNamespace})
	if err != nil {
		return err
	}
	defer store.Close()
	var targets []seed.Target
	for _, l := range r.Listeners() {
		if l.Addr != "" {
			targets = append(targets, seed.Target{Protocol: l.Option, Addr: l.Addr})
		}
	}
	rep, err := seed.Run(ctx, seed.Options{Store: store, Targets: targets, Log: newLogger(r.Config, stderr),
		Metrics: metrics, MaxResolution: r.MaxResolution, VerifyTimeout: timeout})
	fmt.Fprintln(stdout, rep.String())
	return err
}

// runSeedInProcess loads the demo data set into a running 'kale all' (its own listeners and
// store), so a newcomer sees data at once; then calls after (if not nil), e.g. to index it.
func runSeedInProcess(ctx context.Context, store *redisstore.Store, svc *horizon.Service, log *slog.Logger, c *config.Config, after func(context.Context)) {
	var targets []seed.Target
	for _, st := range svc.Listeners() {
		// The demo data set goes through the Graphite-family listeners seed speaks.
		if st.Up && slices.Contains(protocol.All, st.Protocol) {
			targets = append(targets, seed.Target{Protocol: st.Protocol, Addr: st.Addr})
		}
	}
	if len(targets) == 0 {
		log.Error("cannot seed the demo data: no listener is up")
		return
	}
	// seed.Run logs its progress and summary.
	if _, err := seed.Run(ctx, seed.Options{Store: store, Targets: targets, Log: log, MaxResolution: c.MaxResolution}); err != nil {
		if ctx.Err() == nil {
			log.Error("demo data seeding failed", "err", err)
		}
		return
	}
	if after != nil {
		after(ctx)
	}
}

// runLoadgen drives a listener at a steady rate.
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadgen.Options
	fs := flag.NewFlagSet("kale loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Target, "target", "", "where to send: "+loadgen.SchemeHelp)
	fs.IntVar(&o.Metrics, "metrics", loadgen.DefaultMetrics, "number of distinct metrics")
	fs.Float64Var(&o.Rate, "rate", 100_000, "datapoints per second in total; 0 sends as fast as possible")
	fs.DurationVar(&o.Duration, "duration", loadgen.DefaultDuration, "how long to send")
	fs.IntVar(&o.Conns, "conns", loadgen.DefaultConns, "parallel TCP connections, HTTP clients or UDP sockets")
	fs.IntVar(&o.Batch, "batch", 0, "datapoints per frame/datagram/write/request (0: 500 for TCP, 20 for pickle/msgpack UDP, 1 line per plaintext datagram, 2000 per remote-write/influx request, statsd lines up to 1400 bytes)")
	fs.StringVar(&o.Prefix, "prefix", loadgen.DefaultPrefix, "metric name prefix")
	fs.StringVar(&o.VerifyRedis, "verify-redis", "", "Redis URL: after sending, count what was stored and report the loss (skipped for statsd, which stores one aggregate per flush)")
	fs.StringVar(&o.Namespace, "namespace", loadgen.DefaultNamespace, "horizon's full namespace, for --verify-redis")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.Target == "" {
		return fmt.Errorf("%w: --target is required (%s)", errUsage, loadgen.SchemeHelp)
	}
	_, err := loadgen.Run(ctx, o, stdout) // Run prints progress and the summary to stdout
	return err
}
