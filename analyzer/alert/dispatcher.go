package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultQueueSize    = 1024            // deliveries waiting per channel
	DefaultWorkers      = 2               // concurrent deliveries per channel
	DefaultMaxAttempts  = 5               // attempts per delivery, the first included
	DefaultMinBackoff   = time.Second     // wait before the first retry, doubled per retry
	DefaultMaxBackoff   = 5 * time.Minute // longest wait between two attempts
	DefaultSendTimeout  = 30 * time.Second
	DefaultDrainTimeout = 5 * time.Second
)

// Options tune a Dispatcher; a zero field takes its default.
type Options struct {
	QueueSize    int           // deliveries waiting per channel; beyond it Dispatch drops and counts (DefaultQueueSize)
	Workers      int           // concurrent deliveries per channel (DefaultWorkers)
	MaxAttempts  int           // attempts per delivery, the first included (DefaultMaxAttempts)
	MinBackoff   time.Duration // wait before the first retry, doubled per retry (DefaultMinBackoff)
	MaxBackoff   time.Duration // longest wait between two attempts (DefaultMaxBackoff)
	SendTimeout  time.Duration // bound on one attempt (DefaultSendTimeout)
	DrainTimeout time.Duration // how long Run keeps delivering queued alerts after its context ends (DefaultDrainTimeout)
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.Workers, DefaultWorkers)
	def(&o.MaxAttempts, DefaultMaxAttempts)
	defDur(&o.MinBackoff, DefaultMinBackoff)
	defDur(&o.MaxBackoff, DefaultMaxBackoff)
	defDur(&o.SendTimeout, DefaultSendTimeout)
	defDur(&o.DrainTimeout, DefaultDrainTimeout)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
}

// Dispatcher is the analyzer's alert loop (Skyline's "if settings.ENABLE_ALERTS" block),
// made asynchronous: Dispatch matches and de-duplicates synchronously, then hands the alerts
// to per-channel bounded queues that Run's workers deliver with retries. A slow or failing
// channel delays only its own queue; it never blocks the analyzer's cycle.
type Dispatcher struct {
	rules   []Rule
	lanes   map[string]*lane
	dedupe  Deduper
	log     *slog.Logger
	opts    Options
	m       metrics
	running atomic.Bool
}

// lane is one channel's queue.
type lane struct {
	ch    Channel
	queue chan delivery
}

type delivery struct {
	rule Rule
	a    Anomaly
}

type metrics struct {
	sent, failed, retried, dropped, suppressed *prometheus.CounterVec
}

func newMetrics() metrics {
	c := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"strategy"})
	}
	return metrics{
		sent:       c("kale_alerts_sent_total", "Alerts delivered, by strategy."),
		failed:     c("kale_alerts_failed_total", "Alerts given up after a permanent error or the last attempt, by strategy."),
		retried:    c("kale_alerts_retried_total", "Delivery attempts repeated after a failure, by strategy."),
		dropped:    c("kale_alerts_dropped_total", "Alerts dropped because the channel's queue was full or kale was stopping, by strategy."),
		suppressed: c("kale_alerts_suppressed_total", "Alerts not sent because last_alert.<strategy>.<metric> existed (de-duplication), by strategy."),
	}
}

// Deduper keeps Skyline's de-duplication keys, last_alert.<strategy>.<metric>;
// *alertstore.Store implements it.
type Deduper interface {
	// Claim sets the key of each claim that has none, expiring after the claim's Expiration.
	// first[i] is false only when claim i's key already existed; with an error, first holds
	// what is known (true where nothing is) or is nil.
	Claim(ctx context.Context, claims []Claim) (first []bool, err error)
}

// Claim asks to alert metric through strategy: it wins unless an alert was sent within
// Expiration. Value is the anomalous value, stored in the key as Skyline does.
type Claim struct {
	Strategy   string
	Metric     string
	Value      float64
	Expiration time.Duration
}

// New checks that every rule has a channel (keyed by strategy; see Channels) and returns a
// Dispatcher. A rule without one is an error naming the rule and the missing option, e.g.
// "rule skyline:smtp:1800 needs --alert-smtp-to". dedupe holds the de-duplication keys; nil
// disables de-duplication (every matching anomaly alerts every cycle). log may be nil; reg
// may be nil (the counters are then not registered).
func New(rules []Rule, channels map[string]Channel, dedupe Deduper, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Dispatcher, error) {
	opts.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{rules: rules, lanes: make(map[string]*lane), dedupe: dedupe, log: log, opts: opts, m: newMetrics()}
	var errs []error
	for _, r := range rules {
		if r.Expiration <= 0 {
			errs = append(errs, fmt.Errorf("rule %s: expiration must be positive", r.String()))
			continue
		}
		ch, ok := channels[r.Strategy]
		if !ok || ch == nil {
			if opt := NeededOption(r.Strategy); opt != "" {
				errs = append(errs, fmt.Errorf("rule %s needs %s", r.String(), opt))
			} else {
				errs = append(errs, fmt.Errorf("rule %s has no %q channel", r.String(), r.Strategy))
			}
			continue
		}
		if rc, ok := ch.(RuleChecker); ok {
			if err := rc.CheckRule(r); err != nil {
				errs = append(errs, fmt.Errorf("rule %s needs %s: %w", r.String(), NeededOption(r.Strategy), err))
				continue
			}
		}
		if d.lanes[r.Strategy] == nil {
			d.lanes[r.Strategy] = &lane{ch: ch, queue: make(chan delivery, opts.QueueSize)}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("cannot configure alerts: %w", err)
	}
	// Every strategy is exported at 0 from the start, configured or not, so absent() alerts
	// and dashboards see the same series whatever the rules.
	for _, s := range Strategies {
		for _, v := range []*prometheus.CounterVec{d.m.sent, d.m.failed, d.m.retried, d.m.dropped, d.m.suppressed} {
			v.WithLabelValues(s)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{d.m.sent, d.m.failed, d.m.retried, d.m.dropped, d.m.suppressed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register the alert metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Dispatch is called once per analyzer cycle with its anomalies. For each rule (the outer
// loop, as in Skyline) and each anomaly whose metric contains the rule's pattern, it sets
// last_alert.<strategy>.<metric> to the msgpack-encoded value with the rule's expiration, if
// the key does not exist (SET NX EX, one pipelined round trip for the whole cycle), and
// queues an alert when it did not. It never waits for a delivery: a full queue drops the
// alert and counts it. The key is per strategy and metric, not per rule, so two rules with
// the same strategy matching one metric alert once, as in Skyline; Skyline and Kale can share
// the keys. If Redis fails, the alerts are queued anyway (an alert twice beats none) and the
// error is returned for the caller to log.
func (d *Dispatcher) Dispatch(ctx context.Context, anomalies []Anomaly) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var matches []delivery
	for _, r := range d.rules {
		for _, a := range anomalies {
			if strings.Contains(a.Metric, r.Pattern) {
				matches = append(matches, delivery{rule: r, a: a})
			}
		}
	}
	if len(matches) == 0 {
		return nil
	}
	var dedupeErr error
	var first []bool
	if d.dedupe != nil {
		claims := make([]Claim, len(matches))
		for i, m := range matches {
			claims[i] = Claim{Strategy: m.rule.Strategy, Metric: m.a.Metric, Value: m.a.Value, Expiration: m.rule.Expiration}
		}
		var err error
		if first, err = d.dedupe.Claim(ctx, claims); err != nil {
			dedupeErr = fmt.Errorf("cannot de-duplicate alerts in Redis (alerting anyway): %w", err)
		}
	}
	var dropped map[string]int
	for i, m := range matches {
		s := m.rule.Strategy
		if i < len(first) && !first[i] {
			d.m.suppressed.WithLabelValues(s).Inc()
			continue
		}
		select {
		case d.lanes[s].queue <- m:
		default:
			d.m.dropped.WithLabelValues(s).Inc()
			if dropped == nil {
				dropped = make(map[string]int)
			}
			dropped[s]++
		}
	}
	for s, n := range dropped {
		d.log.Warn("alert queue full: alerts dropped", "strategy", s, "dropped", n, "queue_size", d.opts.QueueSize)
	}
	return dedupeErr
}

// Run delivers queued alerts until ctx ends, then keeps delivering what is queued for at most
// Options.DrainTimeout and returns; what is left is dropped and counted. It returns nil
// after a normal stop and an error if the Dispatcher is already running.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("cannot run the alert dispatcher: already running")
	}
	defer d.running.Store(false)
	// hard bounds every delivery: it outlives ctx by at most DrainTimeout.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	var wg sync.WaitGroup
	for s, l := range d.lanes {
		for range d.opts.Workers {
			wg.Go(func() { d.work(ctx, hard, s, l) })
		}
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancelHard()
		<-done
	}
	return nil
}

// work delivers one lane's alerts; after ctx ends it drains the queue until hard ends.
func (d *Dispatcher) work(ctx, hard context.Context, strategy string, l *lane) {
	for {
		select {
		case dl := <-l.queue:
			d.deliver(hard, strategy, l.ch, dl)
			continue
		case <-ctx.Done():
		}
		for {
			select {
			case dl := <-l.queue:
				if hard.Err() != nil {
					d.m.dropped.WithLabelValues(strategy).Inc()
					continue
				}
				d.deliver(hard, strategy, l.ch, dl)
			default:
				return
			}
		}
	}
}

// deliver sends one alert, retrying with exponential backoff.
func (d *Dispatcher) deliver(hard context.Context, strategy string, ch Channel, dl delivery) {
	backoff := d.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(hard, d.opts.SendTimeout)
		err := ch.Send(actx, dl.rule, dl.a)
		cancel()
		if err == nil {
			d.m.sent.WithLabelValues(strategy).Inc()
			return
		}
		if hard.Err() != nil {
			d.m.dropped.WithLabelValues(strategy).Inc()
			return
		}
		if errors.Is(err, ErrPermanent) || attempt >= d.opts.MaxAttempts {
			d.m.failed.WithLabelValues(strategy).Inc()
			d.log.Error("cannot send alert", "strategy", strategy, "rule", dl.rule.String(),
				"metric", dl.a.Metric, "attempts", attempt, "err", err)
			return
		}
		d.m.retried.WithLabelValues(strategy).Inc()
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-hard.Done():
			t.Stop()
			d.m.dropped.WithLabelValues(strategy).Inc()
			return
		}
		backoff = min(backoff*2, d.opts.MaxBackoff)
	}
}
