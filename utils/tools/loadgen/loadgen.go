// Package loadgen is the sending side of Kale's ingestion benchmarks (`kale loadgen`): it
// drives one horizon listener with evenly paced synthetic datapoints in that listener's wire
// format and, optionally, counts what reached Redis. It replaces no Skyline part: Skyline's
// only sender was utils/seed_data.py, one series over UDP, and it had no load generator.
//
// Every metric is named Prefix + a zero-padded index. Each datapoint of a metric carries the
// timestamp max(previous + 1, now): it starts at the current second and advances one second
// per datapoint, so no two datapoints of a metric share a timestamp (nothing is deduplicated)
// and none is older than horizon's MAX_RESOLUTION, however long the run. With VerifyRedis
// the first timestamp also follows the newest one already stored, so runs repeated under the
// same prefix stay unique too (without it, use a fresh Prefix per run). Values come from a
// sawtooth table (see Value) that every format carries exactly.
//
// The hot path encodes from pre-encoded templates (names and values are encoded once per run;
// a datapoint costs two copies and a timestamp) and coalesces TCP payloads into large writes,
// so the generator is not the bottleneck when measuring horizon: BenchmarkEncode* and
// BenchmarkSend measure the rates it reaches (tens of millions of datapoints per second over
// loopback TCP on a 2-core machine).
package loadgen

import (
	"context"
	"fmt"
	"github.com/kale-project/kale/horizon/protocol"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Options configure a run. Zero values take the documented defaults.
type Options struct {
	// Target is PROTO://HOST:PORT, see ParseTarget.
	Target string
	// Metrics is the number of distinct metrics (default 1000).
	Metrics int
	// Rate is the total datapoints per second across all connections; 0 sends as fast as
	// possible for Duration (to measure the ceiling).
	Rate float64
	// Duration is how long to send (default 10s).
	Duration time.Duration
	// Conns is the number of parallel senders: TCP connections or UDP sockets (default 2, at
	// most Metrics). Each owns a disjoint share of the metrics.
	Conns int
	// Batch is the datapoints per pickle frame, msgpack datagram, pickle datagram, plaintext
	// TCP write, plaintext datagram, HTTP request or StatsD datagram. Defaults: 500 for TCP,
	// 20 for pickle and msgpack over UDP (about 700 bytes, under a 1400-byte MTU), 1 line per
	// plaintext datagram, 2,000 samples per remote-write or Influx request (Prometheus's
	// max_samples_per_send), as many StatsD lines as fit in 1,400 bytes. With a Rate, a
	// payload carries what is due in one 5 ms pacing slice, up to Batch.
	Batch int
	// Prefix starts every metric name (default "loadgen.").
	Prefix string
	// VerifyRedis, when set, is a Redis URL: after sending, wait until the stored datapoint
	// count of the generated metrics reaches the sent count or stops growing, and report
	// stored, lost and loss %. Not for StatsD: horizon stores one aggregate per gauge per
	// flush, not the datapoints sent, so the run says so and skips the count.
	VerifyRedis string
	// Namespace is horizon's full namespace (default "metrics.").
	Namespace string
	// VerifyTimeout bounds the wait for Redis (default 60s).
	VerifyTimeout time.Duration
	// VerifyIdle is how long the stored count must stay unchanged to be final (default 2s);
	// keep it well above horizon's --flush-interval (250ms by default).
	VerifyIdle time.Duration
	// Progress is the interval of progress lines (default 1s; negative: none).
	Progress time.Duration
	// Now is the clock of the timestamps (default time.Now).
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMetrics   = 1000
	DefaultDuration  = 10 * time.Second
	DefaultConns     = 2
	DefaultPrefix    = "loadgen."
	DefaultNamespace = "metrics."
)

// maxBatch is horizon's default --max-items: a larger payload would be rejected.
const maxBatch = 100_000

// maxDatagram is the largest UDP payload over IPv4.
const maxDatagram = 65507

// statsdDatagram bounds the default StatsD datagram: StatsD clients keep under a 1,500-byte
// Ethernet MTU (Etsy's docs suggest 1,432 bytes), so a datagram is never fragmented.
const statsdDatagram = 1400

// Report is the outcome of a run.
type Report struct {
	Target   Target
	Metrics  int
	Planned  int64         // datapoints the rate and duration ask for (0 without a rate)
	Sent     int64         // datapoints whose payload was written
	Failed   int64         // datapoints of UDP payloads the kernel refused (e.g. port closed)
	Retries  int64         // HTTP requests answered 429 or 503 and sent again after Retry-After
	Bytes    int64         // payload bytes written
	Payloads int64         // frames, datagrams or plaintext writes
	Duration time.Duration // the run's requested duration
	Elapsed  time.Duration // sending time

	Verified bool  // VerifyRedis was set and the count completed
	Stored   int64 // datapoints found in Redis (relative to the count before the run)
	// Unverified says why VerifyRedis was set but not counted (StatsD aggregates per flush).
	Unverified string
}

// Rate is the achieved datapoints per second.
func (r Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Lost is the datapoints sent but not stored (0 unless verified).
func (r Report) Lost() int64 {
	if !r.Verified {
		return 0
	}
	return max(r.Sent-r.Stored, 0)
}

// LossPct is Lost as a percentage of Sent.
func (r Report) LossPct() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 100 * float64(r.Lost()) / float64(r.Sent)
}

// String is the final summary printed by `kale loadgen`.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loadgen %s: sent %s datapoints of %s metrics in %.2fs = %s datapoints/s, %s bytes in %s payloads",
		r.Target, group(r.Sent), group(int64(r.Metrics)), r.Elapsed.Seconds(), group(int64(r.Rate())), group(r.Bytes), group(r.Payloads))
	if r.Planned > 0 && r.Sent < r.Planned {
		fmt.Fprintf(&b, "\n  stopped early: planned %s datapoints", group(r.Planned))
	}
	if r.Planned > 0 && r.Duration > 0 && r.Elapsed > r.Duration+r.Duration/10+100*time.Millisecond {
		fmt.Fprintf(&b, "\n  behind schedule: took %.2fs for a %v run; the target (or this machine) could not keep up with the rate", r.Elapsed.Seconds(), r.Duration)
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, "\n  %s datapoints not sent: the kernel refused their datagrams (is anything listening?)", group(r.Failed))
	}
	if r.Retries > 0 {
		fmt.Fprintf(&b, "\n  %s requests retried after 429/503 (horizon's writer pushed back)", group(r.Retries))
	}
	if r.Unverified != "" {
		fmt.Fprintf(&b, "\n  not verified in Redis: %s", r.Unverified)
	}
	if r.Verified {
		fmt.Fprintf(&b, "\n  verified in Redis: stored %s of %s, lost %s (%.3f%%)", group(r.Stored), group(r.Sent), group(r.Lost()), r.LossPct())
	}
	return b.String()
}

// Run sends for o.Duration, printing progress and the summary to out, then verifies in Redis
// when o.VerifyRedis is set. It returns what was done so far together with any error; a
// cancelled ctx ends the run early without an error.
func Run(ctx context.Context, o Options, out io.Writer) (Report, error) {
	t, err := o.normalize()
	if err != nil {
		return Report{}, err
	}
	names := Names(o.Prefix, o.Metrics)
	c, err := newCodec(t.Protocol, names)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Target: t, Metrics: o.Metrics, Duration: o.Duration}

	var v *verifier
	if o.VerifyRedis != "" && t.Protocol == protocol.StatsdUDP {
		rep.Unverified = "StatsD values are aggregated per --statsd-flush: Redis holds one point per gauge per flush " +
			"(stats.gauges." + o.Prefix + "*), not one per datapoint sent, so there is no exact count to compare"
		fmt.Fprintf(out, "loadgen: skipping --verify-redis for statsd: %s\n", rep.Unverified)
	} else if o.VerifyRedis != "" {
		if v, err = newVerifier(ctx, o.VerifyRedis, o.Namespace, StoredNames(t.Protocol, names)); err != nil {
			return rep, err
		}
		defer v.Close()
		if v.basePairs > 0 {
			fmt.Fprintf(out, "loadgen: %s datapoints of %s* are already in Redis; counting only new ones\n", group(v.basePairs), o.Prefix)
		}
	}

	senders, err := dial(ctx, t, o, c)
	if err != nil {
		return rep, err
	}
	if v != nil {
		// Continue after what an earlier run stored, so timestamps stay unique across runs.
		for _, s := range senders {
			for j, m := range s.metrics {
				s.next[j] = v.lastTS[m] + 1
			}
		}
	}
	plans := plan(o.Rate, o.Duration, len(senders))
	rep.Planned = total(plans)
	for i, s := range senders {
		s.pace = plans[i]
	}
	rate := "as fast as possible"
	if o.Rate > 0 {
		rate = group(int64(o.Rate)) + " datapoints/s"
	}
	transport := t.Network
	if t.HTTP() {
		transport = "http"
	}
	fmt.Fprintf(out, "loadgen: sending %s to %s for %v over %d %s sender(s), %d metrics %s*, batch %d\n",
		rate, t, o.Duration, len(senders), transport, o.Metrics, o.Prefix, o.Batch)

	start := time.Now()
	stopProgress := progress(out, senders, start, o.Progress)
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range senders {
		g.Go(func() error { return s.run(gctx, start, o.Duration, o.Now) })
	}
	err = g.Wait()
	rep.Elapsed = time.Since(start)
	stopProgress()
	for _, s := range senders {
		_ = s.conn.Close()
		rep.Sent += s.sent.Load()
		rep.Failed += s.failed.Load()
		rep.Retries += s.retries.Load()
		rep.Bytes += s.bytes.Load()
		rep.Payloads += s.payloads.Load()
	}
	if err != nil {
		return rep, err
	}
	if v != nil && ctx.Err() == nil {
		fmt.Fprintf(out, "loadgen: sent %s datapoints; waiting for Redis to store them\n", group(rep.Sent))
		stored, err := v.wait(ctx, rep.Sent, o.VerifyTimeout, o.VerifyIdle, out)
		if err != nil {
			return rep, err
		}
		rep.Verified, rep.Stored = true, stored
	}
	fmt.Fprintln(out, rep)
	return rep, nil
}

// normalize applies the defaults and checks every option, naming the bad one.
func (o *Options) normalize() (Target, error) {
	t, err := ParseTarget(o.Target)
	if err != nil {
		return t, err
	}
	if o.Metrics == 0 {
		o.Metrics = DefaultMetrics
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Conns == 0 {
		o.Conns = DefaultConns
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = 60 * time.Second
	}
	if o.VerifyIdle == 0 {
		o.VerifyIdle = 2 * time.Second
	}
	if o.Progress == 0 {
		o.Progress = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Batch == 0 {
		switch t.Protocol {
		case protocol.PickleTCP, protocol.PlaintextTCP:
			o.Batch = 500
		case protocol.PickleUDP, protocol.MsgpackUDP:
			o.Batch = 20
		case protocol.RemoteWrite, protocol.InfluxV1, protocol.InfluxV2:
			o.Batch = 2000
		case protocol.StatsdUDP: // lines "name:value|g\n", values at most 7 bytes ("255.875")
			o.Batch = max(1, statsdDatagram/(len(o.Prefix)+nameDigits(o.Metrics)+len(":255.875|g\n")))
		default:
			o.Batch = 1
		}
	}
	bad := func(option, format string, args ...any) error {
		return fmt.Errorf("cannot run loadgen: invalid --%s: %s", option, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Metrics < 0 || o.Metrics > 10_000_000:
		return t, bad("metrics", "%d is not in 1..10,000,000", o.Metrics)
	case o.Rate < 0:
		return t, bad("rate", "%v is negative (0 sends as fast as possible)", o.Rate)
	case o.Duration < 0:
		return t, bad("duration", "%v is negative", o.Duration)
	case o.Conns < 0:
		return t, bad("conns", "%d is negative", o.Conns)
	case o.Batch < 0 || o.Batch > maxBatch:
		return t, bad("batch", "%d is not in 1..%d (horizon's --max-items)", o.Batch, maxBatch)
	case o.VerifyTimeout < 0 || o.VerifyIdle < 0:
		return t, bad("verify-timeout", "must not be negative")
	}
	if err := checkName(o.Prefix); err != nil {
		return t, bad("prefix", "%v", err)
	}
	if t.HTTP() || t.Protocol == protocol.StatsdUDP {
		// Kept to what every format carries unescaped and unchanged: no tags (';'), no
		// Influx separators (',', '=', ' '), nothing StatsD's key sanitising would drop.
		if i := strings.IndexFunc(o.Prefix, func(c rune) bool {
			return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')
		}); i >= 0 {
			return t, bad("prefix", "%q has %q: %s targets take only [A-Za-z0-9._-]", o.Prefix, o.Prefix[i], t.Protocol)
		}
	}
	if t.Network == "udp" {
		if n := o.Batch*maxPointBytes(len(o.Prefix)+nameDigits(o.Metrics)) + 16; n > maxDatagram {
			return t, bad("batch", "%d datapoints need up to %d bytes, more than a UDP datagram holds (%d)", o.Batch, n, maxDatagram)
		}
	}
	o.Conns = min(o.Conns, o.Metrics)
	return t, nil
}

// checkName applies horizon's metric-name rule to the prefix.
func checkName(prefix string) error {
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-:;=+%@~#/,", c) >= 0 {
			continue
		}
		return fmt.Errorf("%q has %q, outside the metric-name charset [A-Za-z0-9._-:;=+%%@~#/,]", prefix, c)
	}
	return nil
}

// nameDigits is the width of the zero-padded metric index.
func nameDigits(metrics int) int { return max(6, len(strconv.Itoa(metrics-1))) }

// Names returns the generated metric names: prefix + zero-padded index, e.g. "loadgen.000042".
func Names(prefix string, metrics int) []string {
	out := make([]string, metrics)
	w := nameDigits(metrics)
	for i := range out {
		s := strconv.Itoa(i)
		out[i] = prefix + strings.Repeat("0", w-len(s)) + s
	}
	return out
}

// writeSize is how many bytes a TCP sender coalesces into one write.
const writeSize = 64 << 10

// sender owns one connection and a share of the metrics.
type sender struct {
	c      *codec
	conn   link
	dest   string // the target, for errors
	stream bool   // TCP: coalesce payloads into writes of about writeSize
	lossy  bool   // UDP: a refused write is counted as failed and the run goes on
	batch  int
	pace   pace

	metrics []int   // metric indices owned
	next    []int64 // per owned metric: the earliest next timestamp
	count   []int   // per owned metric: datapoints generated
	cursor  int

	queued   int64 // datapoints generated (sent or in the buffer)
	inBuf    int64 // datapoints in the buffer
	frames   int64 // payloads in the buffer
	sent     atomic.Int64
	failed   atomic.Int64
	retries  atomic.Int64 // HTTP: requests sent again after 429/503
	bytes    atomic.Int64
	payloads atomic.Int64
}

// dial opens o.Conns connections and deals the metrics out round-robin.
func dial(ctx context.Context, t Target, o Options, c *codec) ([]*sender, error) {
	senders := make([]*sender, o.Conns)
	d := net.Dialer{Timeout: 5 * time.Second}
	for i := range senders {
		conn, err := d.DialContext(ctx, t.Network, t.Addr)
		if err != nil {
			for _, s := range senders[:i] {
				_ = s.conn.Close()
			}
			return nil, fmt.Errorf("cannot connect to %s: %w", t, err)
		}
		if u, ok := conn.(*net.UDPConn); ok {
			_ = u.SetWriteBuffer(4 << 20) // best effort
		}
		s := &sender{c: c, conn: conn, dest: t.String(), stream: t.Network == "tcp", lossy: t.Network == "udp", batch: o.Batch}
		if t.HTTP() {
			// The dial checked the address; each sender posts over its own keep-alive connection.
			_ = conn.Close()
			s.conn, s.stream = newHTTPLink(t, &s.retries), false
		}
		for m := i; m < o.Metrics; m += o.Conns {
			s.metrics = append(s.metrics, m)
		}
		s.next = make([]int64, len(s.metrics))
		s.count = make([]int, len(s.metrics))
		senders[i] = s
	}
	return senders, nil
}

// run sends until its quota is sent (with a rate) or the duration has passed (without one),
// or ctx ends. A sender that falls behind schedule — the target pushes back, or this machine
// is short of CPU — catches up as fast as it can, so a paced run always sends its planned
// datapoints and takes longer instead; Report shows it.
func (s *sender) run(ctx context.Context, start time.Time, d time.Duration, now func() time.Time) error {
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() }) // unblocks a stalled write
	defer stop()
	buf := make([]byte, 0, writeSize+64<<10)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for tick := 1; ; tick++ {
		due := s.pace.due(time.Since(start))
		for s.queued < due {
			if ctx.Err() != nil || s.pace.rate <= 0 && time.Since(start) >= d {
				return s.flush(ctx, &buf)
			}
			n := int(min(int64(s.batch), due-s.queued))
			buf = s.payload(buf, n, now().Unix())
			if !s.stream || len(buf) >= writeSize {
				if err := s.flush(ctx, &buf); err != nil {
					return err
				}
			}
		}
		if err := s.flush(ctx, &buf); err != nil {
			return err
		}
		if s.queued >= s.pace.quota || ctx.Err() != nil {
			return nil
		}
		if wait := time.Until(start.Add(time.Duration(tick) * slice)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else {
			tick = int(time.Since(start) / slice) // behind: skip the missed slices
		}
	}
}

// payload appends one payload of n datapoints, cycling through the sender's metrics.
func (s *sender) payload(buf []byte, n int, nowSec int64) []byte {
	start := len(buf)
	buf = s.c.begin(buf, n)
	for i := range n {
		j := s.cursor
		if s.cursor++; s.cursor == len(s.metrics) {
			s.cursor = 0
		}
		ts := max(s.next[j], nowSec)
		s.next[j] = ts + 1
		m := s.metrics[j]
		buf = s.c.add(buf, i, m, ts, (s.count[j]+m)%valueCount)
		s.count[j]++
	}
	buf = s.c.end(buf, start)
	s.queued += int64(n)
	s.inBuf += int64(n)
	s.frames++
	return buf
}

// flush writes the buffer. A UDP payload the kernel refuses (ICMP port unreachable) is
// counted as failed and the run goes on; a TCP write error ends the sender.
func (s *sender) flush(ctx context.Context, buf *[]byte) error {
	if len(*buf) == 0 {
		return nil
	}
	n, points, frames := len(*buf), s.inBuf, s.frames
	*buf, s.inBuf, s.frames = (*buf)[:0], 0, 0
	if _, err := s.conn.Write((*buf)[:n]); err != nil {
		if ctx.Err() != nil {
			return nil // cancelled: the connection was closed under the write
		}
		if s.lossy {
			s.failed.Add(points)
			return nil
		}
		return fmt.Errorf("cannot write to %s: %w", s.dest, err)
	}
	s.sent.Add(points)
	s.bytes.Add(int64(n))
	s.payloads.Add(frames)
	return nil
}

// progress prints a line every interval until the returned stop is called.
func progress(out io.Writer, senders []*sender, start time.Time, every time.Duration) (stop func()) {
	if every < 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var last int64
		lastAt := start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				var sent, failed int64
				for _, s := range senders {
					sent += s.sent.Load()
					failed += s.failed.Load()
				}
				rate := float64(sent-last) / now.Sub(lastAt).Seconds()
				line := fmt.Sprintf("loadgen: %5.1fs sent %s datapoints, %s/s", now.Sub(start).Seconds(), group(sent), group(int64(rate)))
				if failed > 0 {
					line += ", " + group(failed) + " refused by the kernel"
				}
				fmt.Fprintln(out, line)
				last, lastAt = sent, now
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// group formats n with thousands separators: 1234567 → "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
