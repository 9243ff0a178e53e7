// Package analyzer is Kale's detection service: every cycle it reads every series listed in
// metrics.unique_metrics, runs the configured detectors on it with a pool of workers, records
// the anomalous ones (current document, Skyline's anomalies.json, a bounded history), alerts
// and reports what the cycle did. It replaces Skyline's analyzer-agent.py and analyzer.py,
// without their defects: each metric is analysed exactly once per cycle, a bad key or a failing
// alert channel costs one counted error instead of the cycle, and self-metric sends cannot
// kill the loop.
package analyzer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/analyzer/statestore"
	"github.com/kale-project/kale/utils/redisstore"
)

// Alerter receives each cycle's anomalies; *alert.Dispatcher implements it. Dispatch must
// not block on delivery; its error (de-duplication state unreachable) is counted.
type Alerter interface {
	Dispatch(ctx context.Context, anomalies []alert.Anomaly) error
}

// SelfMetrics sends Skyline's Graphite self-metrics; *alert.Graphite implements it.
type SelfMetrics interface {
	Send(ctx context.Context, metrics map[string]float64, ts time.Time) error
}

// Detectors the analyzer can run.
const (
	DetectorKale    = "kale"    // algorithms.Kale, streaming, state kept between cycles
	DetectorSkyline = "skyline" // Etsy's ensemble over the stored window, Settings.Consensus votes
)

// Config tunes the analyzer.
type Config struct {
	Detector       string // DetectorKale or DetectorSkyline
	Kale           algorithms.KaleConfig
	KaleThreshold  float64 // kale score that makes an anomaly
	Settings       algorithms.Settings
	Workers        int           // analysis goroutines
	Interval       time.Duration // 0: Skyline's rule (back to back, sleep 10s after a cycle < 5s)
	SecondOrder    bool          // Skyline ENABLE_SECOND_ORDER
	AnomalyHistory time.Duration // how long records are kept
	AnomalyDump    string        // optional file for Skyline's anomalies.json
	CanaryMetric   string        // Skyline CANARY_METRIC, for the Graphite duration metric
	// ID names this analyzer among those sharing cycles ("": NewID(), hostname-pid-random).
	ID string
	// Lease is how long this analyzer's membership outlives its last heartbeat (0:
	// DefaultLease); it is renewed every Lease/3.
	Lease time.Duration
	// MaxFuture is --max-future: stored points stamped later than the cycle's start plus
	// MaxFuture are ignored, and a kale detector state that has seen one is started afresh
	// (0: DefaultMaxFuture). One far-future point would otherwise end the metric's detection:
	// every later point is older than it.
	MaxFuture time.Duration
	// Yield, when set, is waited on by the workers between small batches of metrics and by
	// the background refinement: a *priority.Gate there lets interactive searches in the
	// same process run first. A nil Yield never waits.
	Yield Yielder
	// ColdRows is how many of its newest rows a kale detector with no state learns from in
	// its first cycle (0: DefaultColdRows; < 0: every stored row). Such a detector is young:
	// between cycles, refine rebuilds it from the whole stored series within RefineBudget.
	ColdRows int
	// ColdBudget is how many stored rows in all, per cycle, detectors with no state may learn
	// from in full before the ColdRows window applies (0: DefaultColdBudget; < 0: none). A
	// small deployment's detectors thus learn their whole history in the first cycle and
	// report what is anomalous now at once; a large one's cold cycle stays bounded.
	ColdBudget int
	// CheckpointCycles spreads the checkpoint of changed kale detector states over this many
	// cycles (0: DefaultCheckpointCycles): after each cycle at most 1/CheckpointCycles of the
	// states are written, so a kill -9 loses at most about that many cycles of learning.
	CheckpointCycles int
	// RefineBudget bounds the time spent rebuilding young detectors after a cycle, within
	// the pause before the next one (0: DefaultRefineBudget; < 0: never refine).
	RefineBudget time.Duration
	Now          func() time.Time
}

// Yielder is what the workers wait on between batches; *priority.Gate implements it.
type Yielder interface {
	Wait(ctx context.Context) error
}

// DefaultMaxFuture is Config.MaxFuture when it is 0.
const DefaultMaxFuture = 10 * time.Minute

// Options wire an Analyzer. Store holds the series; Records, Leases, States and Triggers
// hold the analyzer's own keys and default to the Redis stores on Store's client
// (recordstore and statestore).
type Options struct {
	Config   Config
	Store    *redisstore.Store
	Records  Records
	Leases   Leases
	States   States
	Triggers TriggerHistory
	Alerter  Alerter     // optional
	Graphite SelfMetrics // optional
	Registry prometheus.Registerer
	Log      *slog.Logger
}

// Analyzer runs detection cycles.
type Analyzer struct {
	cfg      Config
	store    *redisstore.Store
	records  Records
	leases   Leases
	triggers TriggerHistory
	ens      *algorithms.Ensemble
	names    []string
	alerter  Alerter
	graphite SelfMetrics
	log      *slog.Logger
	m        *metrics

	states    *kaleStates  // per-metric kale detector state (DetectorKale)
	coldLeft  atomic.Int64 // rows of ColdBudget left in this cycle
	kaleStore States       // where states are saved between runs
	joined    time.Time    // when this analyzer was created (shown in its lease)
	cycles    uint32       // cycles run, stamping the states each one assigned

	onShare func(keys []string) // tests: the keys this analyzer was assigned in a cycle

	mu   sync.Mutex
	last CycleStats
}

// Exception reasons, named as Skyline's counters.
const (
	TooShort        = "TooShort"
	Stale           = "Stale"
	Boring          = "Boring"
	Incomplete      = "Incomplete"
	DeletedByRoomba = "DeletedByRoomba"
	Other           = "Other"
)

var exceptionNames = []string{TooShort, Stale, Boring, Incomplete, DeletedByRoomba, Other}

// New validates the detectors and runs Skyline's start-up self-test on each of them.
func New(o Options) (*Analyzer, error) {
	if o.Config.Now == nil {
		o.Config.Now = time.Now
	}
	if o.Config.Workers < 1 {
		o.Config.Workers = 1
	}
	if o.Config.ID == "" {
		o.Config.ID = NewID()
	}
	if o.Config.Lease <= 0 {
		o.Config.Lease = DefaultLease
	}
	if o.Config.MaxFuture <= 0 {
		o.Config.MaxFuture = DefaultMaxFuture
	}
	switch {
	case o.Config.ColdRows == 0:
		o.Config.ColdRows = DefaultColdRows
	case o.Config.ColdRows < 0:
		o.Config.ColdRows = 0 // every row
	}
	switch {
	case o.Config.ColdBudget == 0:
		o.Config.ColdBudget = DefaultColdBudget
	case o.Config.ColdBudget < 0:
		o.Config.ColdBudget = 0
	}
	if o.Config.CheckpointCycles <= 0 {
		o.Config.CheckpointCycles = DefaultCheckpointCycles
	}
	if o.Config.RefineBudget == 0 {
		o.Config.RefineBudget = DefaultRefineBudget
	}
	ens, err := algorithms.NewEnsemble(&o.Config.Settings)
	if err != nil {
		return nil, err
	}
	if o.Records == nil || o.Leases == nil {
		rs := recordstore.New(o.Store.Client())
		if o.Records == nil {
			o.Records = rs
		}
		if o.Leases == nil {
			o.Leases = rs
		}
	}
	if o.States == nil || o.Triggers == nil {
		ss := statestore.New(o.Store)
		if o.States == nil {
			o.States = ss
		}
		if o.Triggers == nil {
			o.Triggers = ss
		}
	}
	a := &Analyzer{
		cfg: o.Config, store: o.Store, records: o.Records, leases: o.Leases, triggers: o.Triggers,
		kaleStore: o.States, ens: ens,
		names: ens.Settings().Algorithms, alerter: o.Alerter, graphite: o.Graphite, log: o.Log,
		joined: time.Now().UTC(),
	}
	switch o.Config.Detector {
	case "", DetectorSkyline:
		a.cfg.Detector = DetectorSkyline
		if err := algorithms.SelfTest(&o.Config.Settings); err != nil {
			return nil, fmt.Errorf("cannot start the analyzer: the start-up self-test failed: %w", err)
		}
	case DetectorKale:
		if err := o.Config.Kale.Validate(); err != nil {
			return nil, fmt.Errorf("cannot start the analyzer: %w", err)
		}
		if !(o.Config.KaleThreshold > 0 && o.Config.KaleThreshold <= 1) {
			return nil, fmt.Errorf("cannot start the analyzer: kale threshold %v must be in (0, 1]", o.Config.KaleThreshold)
		}
		a.names = []string{DetectorKale}
		a.states = newKaleStates()
	default:
		return nil, fmt.Errorf("cannot start the analyzer: unknown detector %q (kale or skyline)", o.Config.Detector)
	}
	a.m = newMetrics(o.Registry, a.names)
	return a, nil
}

// Last returns the stats of the last completed cycle (zero before the first).
func (a *Analyzer) Last() CycleStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// Run analyses cycle after cycle until ctx ends, heartbeating its lease so other analyzers
// share the cycle with it. On the way out it saves the kale detector states, then gives up its
// lease, so whoever takes its metrics over resumes from the saved states.
func (a *Analyzer) Run(ctx context.Context) error {
	a.log.Info("analyzer started", "id", a.cfg.ID, "lease", a.cfg.Lease, "detector", a.cfg.Detector,
		"algorithms", strings.Join(a.names, ","), "consensus", a.cfg.Settings.Consensus,
		"kale_threshold", a.cfg.KaleThreshold, "workers", a.cfg.Workers)
	hctx, stopHeartbeat := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); a.heartbeat(hctx) }()
	defer func() {
		stopHeartbeat()
		<-beating
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a.states != nil {
			n, err := a.SaveStates(sctx)
			if err != nil {
				a.log.Warn("cannot save the kale detector states; they will be rebuilt from the stored series", "err", err)
			} else {
				a.log.Info("saved the kale detector states", "metrics", n)
			}
		}
		if err := a.Leave(sctx); err != nil {
			a.log.Warn("cannot give up the analyzer lease; the other analyzers take over this share when it expires",
				"err", err, "lease", a.cfg.Lease)
		}
	}()
	var lastEmptyLog time.Time
	for {
		start := time.Now()
		st, err := a.Cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			a.m.errors.WithLabelValues(errCycle).Inc()
			a.log.Warn("analyzer cycle failed; retrying in 10s", "err", err)
			wait = 10 * time.Second
		case st.Metrics == 0:
			if time.Since(lastEmptyLog) > time.Minute {
				a.log.Info("no metrics in Redis yet; send some (kale seed, or a carbon-relay to the pickle port) — see README")
				lastEmptyLog = time.Now()
			}
			wait = 10 * time.Second
		case a.cfg.Interval > 0:
			wait = a.cfg.Interval - time.Since(start)
		case time.Since(start) < 5*time.Second:
			wait = 10 * time.Second // Skyline: "sleeping due to low run time"
		}
		if err == nil && a.states != nil {
			wait = a.between(ctx, wait)
		}
		if wait <= 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// chunk is the number of keys a worker reads with one MGET.
const chunk = 200

// workerOut is what one worker found; merged after the cycle, so the hot path takes no lock.
type workerOut struct {
	records    []Record
	exceptions map[string]int
	triggers   []int
	fresh      int // records found in this cycle's points (the rest are carried over)
	analysed   int
	errors     int
	corrupt    int
	future     int // points beyond now + MaxFuture, ignored
	loads      stateLoads
	tailReads  int // kale: series read from their last pair on
	fullReads  int // kale: series read whole
}

// Cycle renews this analyzer's lease, reads the live members, analyses once each metric this
// analyzer owns among them (every metric when it runs alone) and records the result: its own
// part of the current document, merged with the other live members' parts.
func (a *Analyzer) Cycle(ctx context.Context) (CycleStats, error) {
	started := a.cfg.Now()
	t0 := time.Now()
	if err := a.Join(ctx); err != nil {
		return CycleStats{}, err
	}
	members, err := a.Members(ctx)
	if err != nil {
		return CycleStats{}, err
	}
	if !slices.Contains(members, a.cfg.ID) { // a lease that expired between Join and Members
		members = append(members, a.cfg.ID)
		slices.Sort(members)
	}
	ns := a.store.Options().FullNamespace
	all, err := a.store.Members(ctx, ns)
	if err != nil {
		return CycleStats{}, err
	}
	keys := share(all, members, a.cfg.ID)
	if a.onShare != nil {
		a.onShare(keys)
	}
	st := CycleStats{Started: started.UTC(), Metrics: len(all), Assigned: len(keys), Instance: a.cfg.ID,
		Instances: len(members), Exceptions: map[string]int{}, Triggers: map[string]int{}}
	if len(all) == 0 {
		return st, nil
	}
	now := float64(started.UnixNano()) / 1e9
	a.cycles++
	cycle := a.cycles
	a.coldLeft.Store(int64(a.cfg.ColdBudget))
	work := make(chan []string)
	outs := make([]*workerOut, a.cfg.Workers)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for i := 0; i < len(keys); i += chunk {
			select {
			case work <- keys[i:min(i+chunk, len(keys))]:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for w := range outs {
		out := &workerOut{exceptions: map[string]int{}, triggers: make([]int, len(a.names))}
		outs[w] = out
		if a.states != nil {
			g.Go(func() error { return a.kaleWorker(gctx, work, now, ns, cycle, out) })
		} else {
			g.Go(func() error { return a.worker(gctx, work, now, ns, out) })
		}
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	var recs []Record
	var loads stateLoads
	corrupt, future, tails, fulls := 0, 0, 0, 0
	for _, o := range outs {
		loads.add(o.loads)
		tails += o.tailReads
		fulls += o.fullReads
		recs = append(recs, o.records...)
		st.Analysed += o.analysed
		st.AnomaliesNew += o.fresh
		st.Errors += o.errors
		corrupt += o.corrupt
		future += o.future
		for k, v := range o.exceptions {
			st.Exceptions[k] += v
		}
		for i, n := range o.triggers {
			st.Triggers[a.names[i]] += n
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Metric < recs[j].Metric })
	if recs == nil {
		recs = []Record{}
	}
	st.Anomalies = len(recs)
	st.AnomaliesCarried = st.Anomalies - st.AnomaliesNew
	if n, err := a.applyFeedback(ctx, recs, started.Unix()); err != nil {
		st.Errors++
		a.m.errors.WithLabelValues(errFeedback).Inc()
		a.log.Warn("cannot apply operator feedback; anomalies are alerted as usual", "err", err)
	} else {
		st.Suppressed = n
	}
	st.DurationS = time.Since(t0).Seconds()

	if err := a.save(ctx, st, recs, members); err != nil {
		st.Errors++
		a.m.errors.WithLabelValues(errRecords).Inc()
		a.log.Warn("cannot store this cycle's anomaly records", "err", err)
	}
	if alerts := toAlerts(recs); a.alerter != nil && len(alerts) > 0 {
		if err := a.alerter.Dispatch(ctx, alerts); err != nil {
			st.Errors++
			a.m.errors.WithLabelValues(errAlert).Inc()
			a.log.Warn("alert de-duplication failed; alerts were queued anyway", "err", err)
		}
	}
	a.sendSelfMetrics(ctx, st, started)
	a.m.observe(st, corrupt, future)
	a.mu.Lock()
	a.last = st
	a.mu.Unlock()
	a.log.Info("analyzer cycle", "seconds", fmt.Sprintf("%.2f", st.DurationS), "metrics", st.Metrics,
		"assigned", st.Assigned, "analyzers", st.Instances, "analysed", st.Analysed, "anomalies", st.Anomalies, "exceptions", st.Exceptions,
		"breakdown", st.Triggers, "errors", st.Errors)
	if a.states != nil {
		a.kaleSummary(cycle, loads, tails, fulls)
	}
	return st, nil
}

// dropFuture removes, in place, the points stamped later than now + MaxFuture (or NaN): the
// writer refuses them and Roomba removes them, but one that got in would sort last and make
// every real point look old to the detectors.
func (a *Analyzer) dropFuture(series []algorithms.Point, now float64, out *workerOut) []algorithms.Point {
	ceiling := now + a.cfg.MaxFuture.Seconds()
	kept := series[:0]
	for _, p := range series {
		if p.Timestamp <= ceiling {
			kept = append(kept, p)
		}
	}
	out.future += len(series) - len(kept)
	return kept
}

// guarded sorts a series by time (series stay in arrival order until Roomba sorts them) and
// runs one detector on it; a panic costs this series, counted, never the cycle.
func (a *Analyzer) guarded(name string, series []algorithms.Point, out *workerOut, run func([]algorithms.Point)) {
	defer func() {
		if r := recover(); r != nil {
			out.exceptions[Other]++
			out.errors++
			a.m.errors.WithLabelValues(errPanic).Inc()
			a.log.Error("analysis panicked; the series is skipped", "metric", name, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if !slices.IsSortedFunc(series, byTime) {
		slices.SortStableFunc(series, byTime)
	}
	run(series)
}

func byTime(a, b algorithms.Point) int {
	switch {
	case a.Timestamp < b.Timestamp:
		return -1
	case a.Timestamp > b.Timestamp:
		return 1
	}
	return 0
}

func exceptionName(err error) string {
	switch {
	case errors.Is(err, algorithms.ErrTooShort):
		return TooShort
	case errors.Is(err, algorithms.ErrStale):
		return Stale
	case errors.Is(err, algorithms.ErrBoring):
		return Boring
	case errors.Is(err, algorithms.ErrIncomplete):
		return Incomplete
	}
	return Other
}

// toAlerts converts the records to alert, leaving out those suppressed by feedback.
func toAlerts(recs []Record) []alert.Anomaly {
	out := make([]alert.Anomaly, 0, len(recs))
	for _, r := range recs {
		if r.Suppressed {
			continue
		}
		why := fmt.Sprintf("%d of the detectors voted anomalous: %s", len(r.Triggered), strings.Join(r.Triggered, ", "))
		if e := r.Explanation; e != nil {
			why = kaleWhy(r, e)
		}
		out = append(out, alert.Anomaly{Metric: r.Metric, Value: float64(r.Value), Timestamp: r.Timestamp,
			Triggered: r.Triggered, Score: float64(r.Score), Explanation: why})
	}
	return out
}

// sendSelfMetrics sends Skyline's Graphite metrics; a failure is counted, never fatal.
func (a *Analyzer) sendSelfMetrics(ctx context.Context, st CycleStats, started time.Time) {
	if a.graphite == nil {
		return
	}
	m := map[string]float64{
		"skyline.analyzer.run_time":       st.DurationS,
		"skyline.analyzer.total_analyzed": float64(st.Assigned - sum(st.Exceptions)),
	}
	if a.cfg.CanaryMetric != "" {
		if series, _, err := a.store.Series(ctx, a.cfg.CanaryMetric); err == nil && len(series) > 1 {
			hours := (series[len(series)-1].Timestamp - series[0].Timestamp) / 3600
			m["skyline.analyzer.duration"] = hours
			if hours > 0 {
				m["skyline.analyzer.projected"] = 24 * st.DurationS / hours
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.graphite.Send(sctx, m, started); err != nil {
		a.m.errors.WithLabelValues(errGraphite).Inc()
		a.log.Warn("cannot send Graphite self-metrics", "err", err)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
