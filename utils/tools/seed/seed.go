// Package seed is Kale's demo-data sender behind `kale seed` and `kale all --seed`: it sends
// a realistic set of demo series through every enabled horizon listener and verifies that
// every datapoint reached Redis. It replaces Skyline's utils/seed_data.py, which sent one
// series over msgpack UDP and only checked that its key existed.
//
// The data set (see Generate) has a few dozen metrics (demo.web.requests,
// demo.db.latency_ms, demo.queue.depth, demo.cpu.host01.user, …) with a daily and a weekly
// shape, noise, counters next to gauges, a few flat metrics, groups of metrics sharing a
// shape (neighbours for the similarity search) and anomalies injected near now (a spike, a
// drop, a level shift, a noisy burst) for the analyzer to find.
//
// How the data gets in: horizon drops datapoints older than now − MAX_RESOLUTION (1000 s by
// default), so history cannot travel through the listeners. Seed therefore writes the
// history older than Options.Recent (15 minutes) directly to Redis with Store.Append, in
// Skyline's layout, and sends only the most recent 15 minutes of every metric through the
// listeners, spreading the metrics over every enabled protocol (pickle frames of up to 500
// datapoints over TCP, pickle and msgpack datagrams — single and batched — over UDP,
// plaintext lines over TCP and UDP). It then polls Redis until every metric is in
// metrics.unique_metrics and every (timestamp, value) it wrote or sent is stored, comparing
// values exactly: gauges are rounded to 3 decimals and plaintext is formatted with
// strconv's shortest representation, so every format carries the same float64.
package seed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// Target is one enabled horizon listener.
type Target struct {
	Protocol string // one of horizon/protocol.All
	Addr     string // host:port
}

// Options configure a seed run. Zero values take the documented defaults.
type Options struct {
	// Store is where history is written and what is verified (required).
	Store *redisstore.Store
	// Targets are the enabled listeners (at least one); a disabled listener is left out.
	Targets []Target
	// Now is the end of the data set (default time.Now()). Horizon drops datapoints older
	// than its own clock minus MAX_RESOLUTION, so keep it close to the current time.
	Now time.Time
	// Log receives progress and the summary (default: discarded).
	Log *slog.Logger
	// Metrics is the number of demo metrics (default 36).
	Metrics int
	// History is how far back the data set reaches (default 24h; keep it within horizon's
	// FULL_DURATION, or Roomba trims what verification looks for).
	History time.Duration
	// Step is the spacing of the history (default 60s).
	Step time.Duration
	// Recent is the most recent part, sent through the listeners (default 15m). It must
	// stay under MaxResolution by a minute, or horizon would drop its oldest datapoints.
	Recent time.Duration
	// RecentStep is the spacing of the recent part (default 10s).
	RecentStep time.Duration
	// MaxResolution is horizon's MAX_RESOLUTION (default 1000s).
	MaxResolution time.Duration
	// VerifyTimeout bounds the wait for the data to appear in Redis (default 15s).
	VerifyTimeout time.Duration
	// Seed seeds the noise (default DefaultSeed).
	Seed uint64
}

// Defaults of Options.
const (
	DefaultMetrics       = 36
	DefaultHistory       = 24 * time.Hour
	DefaultStep          = 60 * time.Second
	DefaultRecent        = 15 * time.Minute
	DefaultRecentStep    = 10 * time.Second
	DefaultMaxResolution = 1000 * time.Second
	DefaultVerifyTimeout = 15 * time.Second
	DefaultSeed          = 20130527 // the first day of Skyline's utils/data.json
)

func (o *Options) defaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == 0 {
		o.Metrics = DefaultMetrics
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Recent == 0 {
		o.Recent = DefaultRecent
	}
	if o.RecentStep == 0 {
		o.RecentStep = DefaultRecentStep
	}
	if o.MaxResolution == 0 {
		o.MaxResolution = DefaultMaxResolution
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = DefaultVerifyTimeout
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
}

// validate checks the options after defaults, naming the bad one.
func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cannot seed: %s", fmt.Sprintf(format, args...))
	}
	if o.Store == nil {
		return bad("no Redis store")
	}
	if len(o.Targets) == 0 {
		return bad("no listener is enabled (--pickle-tcp, --pickle-udp, --msgpack-udp, --plaintext-tcp and --plaintext-udp are all empty)")
	}
	seen := map[string]bool{}
	for _, t := range o.Targets {
		if !slices.Contains(protocol.All, t.Protocol) {
			return bad("unknown protocol %q (want one of %s)", t.Protocol, strings.Join(protocol.All, ", "))
		}
		if seen[t.Protocol] {
			return bad("protocol %q listed twice", t.Protocol)
		}
		if t.Addr == "" {
			return bad("no address for %s", t.Protocol)
		}
		seen[t.Protocol] = true
	}
	switch {
	case o.Metrics < len(o.Targets) || o.Metrics > 1000:
		return bad("--metrics %d must be between the number of listeners (%d) and 1000", o.Metrics, len(o.Targets))
	case o.Step < time.Second || o.RecentStep < time.Second || o.Step%time.Second != 0 || o.RecentStep%time.Second != 0:
		return bad("steps must be whole seconds, got %v and %v", o.Step, o.RecentStep)
	case o.Recent < o.RecentStep || o.Recent > o.MaxResolution-time.Minute:
		return bad("the recent window %v must be between %v and MAX_RESOLUTION (%v) minus a minute", o.Recent, o.RecentStep, o.MaxResolution)
	case o.History < o.Recent:
		return bad("history %v is shorter than the recent window %v", o.History, o.Recent)
	case o.VerifyTimeout < 0:
		return bad("negative verify timeout %v", o.VerifyTimeout)
	}
	return nil
}

// Report is the outcome of a run.
type Report struct {
	Metrics  int
	History  int            // datapoints older than Recent written directly to Redis (not already there)
	Sent     map[string]int // datapoints sent through each listener, by protocol
	Stored   int            // sent datapoints found in Redis
	Missing  []string       // "metric: n of m datapoints missing (…)", one per incomplete metric
	Errors   []string       // what could not be sent
	Recent   time.Duration  // the window sent through the listeners
	Duration time.Duration
}

// SentTotal is the number of datapoints sent through the listeners.
func (r Report) SentTotal() int {
	n := 0
	for _, c := range r.Sent {
		n += c
	}
	return n
}

// OK reports whether everything was sent and found in Redis.
func (r Report) OK() bool { return len(r.Missing) == 0 && len(r.Errors) == 0 && r.SentTotal() > 0 }

// String is the summary printed by `kale seed`.
func (r Report) String() string {
	var via []string
	for _, p := range protocol.All {
		if n, ok := r.Sent[p]; ok {
			via = append(via, fmt.Sprintf("%s %d", p, n))
		}
	}
	history := fmt.Sprintf("%d history datapoints older than %v were written directly to Redis (horizon drops datapoints older than MAX_RESOLUTION)",
		r.History, r.Recent)
	if r.OK() {
		return fmt.Sprintf("seed OK: %d metrics, %d datapoints via %s, verified in Redis in %.1fs; %s",
			r.Metrics, r.SentTotal(), strings.Join(via, ", "), r.Duration.Seconds(), history)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed FAILED: %d metrics, %d of %d datapoints sent via %s found in Redis", r.Metrics, r.Stored, r.SentTotal(), strings.Join(via, ", "))
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\n  %s", e)
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "\n  missing: %s", m)
	}
	fmt.Fprintf(&b, "\n  note: %s", history)
	return b.String()
}

// ErrNotStored reports datapoints that did not reach Redis in time.
var ErrNotStored = errors.New("seed datapoints did not reach Redis")

// Run generates the demo data, writes its history to Redis, sends its recent part through
// o.Targets and verifies everything in Redis. It returns an error naming what is missing
// when verification fails (wrapping ErrNotStored) or something could not be sent.
func Run(ctx context.Context, o Options) (Report, error) {
	start := time.Now()
	o.defaults()
	if err := o.validate(); err != nil {
		return Report{}, err
	}
	if skew := time.Since(o.Now); skew > time.Minute || skew < -time.Minute {
		o.Log.Warn("seed: Now is far from the clock; horizon may drop the recent datapoints as too old", "now", o.Now, "skew", skew)
	}
	series := Generate(o)
	cutoff := o.Now.Truncate(o.RecentStep).Add(-o.Recent).Unix()
	rep := Report{Metrics: len(series), Sent: map[string]int{}, Recent: o.Recent}

	// History first, so that the recent datapoints land after it in every key. Datapoints
	// already stored (an earlier seed run) are not written twice.
	keys := make([]string, len(series))
	for i, s := range series {
		keys[i] = o.Store.FullKey(s.Name)
	}
	existing, err := o.Store.Raw(ctx, keys)
	if err != nil {
		return rep, fmt.Errorf("cannot read the existing demo series: %w", err)
	}
	history := map[string][]byte{}
	enc := redisstore.NewEncoder()
	present := 0
	before := make([]map[pair]int, len(series)) // what verification must see grow
	for i, s := range series {
		before[i] = countPairs(existing[i])
		var b []byte
		for _, p := range s.Points {
			switch {
			case p.Timestamp > cutoff:
			case before[i][pair{float64(p.Timestamp), p.Value.Float64()}] > 0:
				present++
			default:
				b = enc.AppendPair(b, metric.Int(p.Timestamp), p.Value)
				rep.History++
			}
		}
		if len(b) > 0 {
			history[keys[i]] = b
		}
	}
	o.Log.Info("seed: writing history directly to Redis: horizon drops datapoints older than MAX_RESOLUTION, so only the recent window goes through the listeners",
		"metrics", len(series), "datapoints", rep.History, "already_stored", present, "history", o.History, "recent", o.Recent, "store", o.Store.String())
	if res := o.Store.Append(ctx, history, nil); res.Err != nil {
		return rep, fmt.Errorf("cannot write the seed history: %w", res.Err)
	}

	// Deal the metrics out over the listeners and send their recent datapoints.
	share := map[string][]Series{}
	for i, s := range series {
		t := o.Targets[i%len(o.Targets)]
		share[t.Protocol] = append(share[t.Protocol], recentPart(s, cutoff))
	}
	failed := map[string]bool{}
	for _, t := range o.Targets {
		n, err := send(ctx, t, share[t.Protocol])
		rep.Sent[t.Protocol] = n
		if err != nil {
			failed[t.Protocol] = true
			rep.Errors = append(rep.Errors, err.Error())
			o.Log.Error("seed: cannot send", "protocol", t.Protocol, "addr", t.Addr, "sent", n, "err", err)
			continue
		}
		o.Log.Info("seed: sent through the listener", "protocol", t.Protocol, "addr", t.Addr, "metrics", len(share[t.Protocol]), "datapoints", n)
	}

	if err := verify(ctx, o, series, cutoff, before, share, failed, &rep); err != nil {
		return rep, err
	}
	rep.Duration = time.Since(start)
	if rep.OK() {
		o.Log.Info(rep.String())
		return rep, nil
	}
	o.Log.Error(rep.String())
	return rep, rep.err()
}

// err summarises a failed run in one error: what could not be sent, then up to five
// incomplete metrics.
func (r Report) err() error {
	parts := slices.Clone(r.Errors)
	const show = 5
	for i, m := range r.Missing {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more metrics", len(r.Missing)-show))
			break
		}
		parts = append(parts, m)
	}
	if len(r.Missing) == 0 {
		if len(parts) == 0 {
			parts = append(parts, "nothing was sent")
		}
		return fmt.Errorf("cannot seed: %s", strings.Join(parts, "; "))
	}
	return fmt.Errorf("%w (%d of %d datapoints sent through the listeners stored after %.1fs): %s",
		ErrNotStored, r.Stored, r.SentTotal(), r.Duration.Seconds(), strings.Join(parts, "; "))
}

// recentPart is s restricted to the datapoints after cutoff.
func recentPart(s Series, cutoff int64) Series {
	i, _ := slices.BinarySearchFunc(s.Points, cutoff+1, func(p Point, t int64) int {
		switch {
		case p.Timestamp < t:
			return -1
		case p.Timestamp > t:
			return 1
		}
		return 0
	})
	s.Points = s.Points[i:]
	return s
}
