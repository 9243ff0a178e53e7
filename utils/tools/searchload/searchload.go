// Package searchload measures similarity search the way a user meets it: through the HTTP API
// of a running `kale all` (or `kale webapp`) process over a real Redis, with the analyzer
// running next to it. It is `kale searchload` (issue #13):
//
//  1. write Series series of Points points (step Step, ending now) into Redis in Skyline's
//     layout, unless the Redis already holds them (Seed false): about 90 % random walks and
//     10 % members of 300 shape families, from a fixed seed, so queries have true neighbours;
//  2. start the Kale binary (`<Kale> <Command> --redis … --webapp …`, listeners off, search
//     rate limit raised) and wait until its shape index holds every series;
//  3. send Searches DTW top-K searches (window 0.1, by metric name) to POST /api/v1/search at
//     Rate per second, one at a time, timing each one at the client; every second it polls
//     /api/v1/status (analyzer cycles) and the process's RSS;
//  4. check Check of the searches against a brute-force scan of the windows read from Redis
//     (the same window, z-normalisation, DTW band and tie-break as the search);
//  5. report p50/p99 overall, while an analyzer cycle ran and while none ran, the exactness
//     result and the peak RSS, then stop the process.
//
// It imports no service package: it speaks to Kale over HTTP and to Redis through
// utils/redisstore, and computes the brute force with algorithms.
package searchload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/tools/procstat"
	"github.com/kale-project/kale/utils/tools/shapes"
)

// Options configure a run. Zero fields take the defaults of Defaults.
type Options struct {
	Redis    string        // URL of a real Redis (redis://…)
	Kale     string        // the kale binary to start
	Command  string        // "all" (analyzer running) or "webapp" (no analyzer)
	Webapp   string        // address the started process serves the API on (default: a free loopback port)
	Series   int           // series to write and search
	Points   int           // points per series
	Step     time.Duration // spacing of the points
	Seed     bool          // write the series first (false: use what the Redis holds)
	Searches int           // searches to send
	Rate     float64       // searches per second (one at a time)
	K        int           // results per search
	Check    int           // searches checked against brute force
	Wait     time.Duration // longest wait for the index to hold every series
	Args     []string      // extra arguments for the started process
	Log      io.Writer     // progress lines (nil: discarded)
}

// Defaults: the configuration of issue #13's check.
func Defaults() Options {
	return Options{Command: "all", Series: 100_000, Points: 256, Step: 10 * time.Second, Seed: true,
		Searches: 300, Rate: 4, K: 10, Check: 40, Wait: 10 * time.Minute}
}

func (o Options) withDefaults() Options {
	d := Defaults()
	if o.Command == "" {
		o.Command = d.Command
	}
	if o.Series <= 0 {
		o.Series = d.Series
	}
	if o.Points <= 1 {
		o.Points = d.Points
	}
	if o.Step <= 0 {
		o.Step = d.Step
	}
	if o.Searches <= 0 {
		o.Searches = d.Searches
	}
	if o.Rate <= 0 {
		o.Rate = d.Rate
	}
	if o.K <= 0 {
		o.K = d.K
	}
	if o.Check < 0 {
		o.Check = 0
	}
	if o.Wait <= 0 {
		o.Wait = d.Wait
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Latency summarises a set of searches, in milliseconds at the client.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Report is the outcome of a run.
type Report struct {
	Command      string        `json:"command"`
	Series       int           `json:"series"`
	Points       int           `json:"points"`
	IndexWait    float64       `json:"index_wait_s"` // from the start of the process to a full index
	All          Latency       `json:"all"`
	Server       Latency       `json:"server"`       // took_ms as the search reports it (without HTTP)
	DuringCycle  Latency       `json:"during_cycle"` // searches that started while an analyzer cycle ran
	OutsideCycle Latency       `json:"outside_cycle"`
	Cycles       []CycleWindow `json:"cycles"`
	Failed       int           `json:"failed"`
	Checked      int           `json:"checked"`
	Exact        int           `json:"exact"` // checked searches equal to brute force
	Mismatches   []string      `json:"mismatches,omitempty"`
	// CPUPerSearch is the process's CPU time (user + system) during the searches divided by
	// their number: the search's cost on a shared machine, where wall times depend on the
	// other load (with --command all it includes the analyzer's work).
	CPUPerSearch float64 `json:"cpu_ms_per_search"`
	PeakRSSMB    float64 `json:"peak_rss_mb"` // the process's VmHWM at the end
	RSSMB        float64 `json:"rss_mb"`
}

// CycleWindow is one analyzer cycle seen by the status poll.
type CycleWindow struct {
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration_s"`
}

// Run performs the measurement; ctx bounds it.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	if o.Redis == "" || o.Kale == "" {
		return Report{}, errors.New("searchload needs --redis (a real Redis URL) and --kale (the kale binary)")
	}
	store, err := redisstore.Open(o.Redis, redisstore.Options{})
	if err != nil {
		return Report{}, err
	}
	defer store.Close()
	names := seriesNames(o.Series)
	if o.Seed {
		start := time.Now()
		if err := seed(ctx, store, names, o); err != nil {
			return Report{}, err
		}
		fmt.Fprintf(o.Log, "wrote %d series × %d points in %.1fs\n", len(names), o.Points, time.Since(start).Seconds())
	}
	if o.Webapp == "" {
		if o.Webapp, err = freeAddr(); err != nil {
			return Report{}, err
		}
	}
	proc, err := startKale(ctx, o)
	if err != nil {
		return Report{}, err
	}
	defer proc.stop()
	rep := Report{Command: o.Command, Series: o.Series, Points: o.Points}
	base := "http://" + o.Webapp
	t0 := time.Now()
	if err := waitIndexed(ctx, base, o.Series, o.Wait, proc); err != nil {
		return rep, err
	}
	rep.IndexWait = time.Since(t0).Seconds()
	fmt.Fprintf(o.Log, "index holds %d series after %.1fs\n", o.Series, rep.IndexWait)

	// The status poll: analyzer cycles and the process's memory.
	pollCtx, stopPoll := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	var cycles cycleLog
	pollWG.Add(1)
	go func() {
		defer pollWG.Done()
		pollStatus(pollCtx, base, &cycles)
	}()

	cpu0 := procCPU(proc.pid())
	rng := rand.New(rand.NewPCG(2026, 13))
	samples := make([]sample, 0, o.Searches)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	for i := 0; i < o.Searches; i++ {
		q := names[rng.IntN(len(names))]
		s := search(ctx, base, q, o.K)
		samples = append(samples, s)
		if s.err != nil {
			rep.Failed++
			fmt.Fprintf(o.Log, "search %d (%s) failed: %v\n", i, q, s.err)
		}
		if (i+1)%50 == 0 {
			fmt.Fprintf(o.Log, "%d searches sent\n", i+1)
		}
		select {
		case <-ctx.Done():
			stopPoll()
			return rep, ctx.Err()
		case <-tick.C:
		}
	}
	tick.Stop()
	rep.CPUPerSearch = (procCPU(proc.pid()) - cpu0).Seconds() * 1000 / float64(max(1, o.Searches))
	// One more poll after the last search, so a cycle still running is known.
	time.Sleep(1500 * time.Millisecond)
	stopPoll()
	pollWG.Wait()
	rep.Cycles = cycles.windows(time.Now())
	rep.RSSMB, rep.PeakRSSMB, _ = procstat.Memory(proc.pid())
	summarise(&rep, samples)
	proc.stop() // the brute force below gets the machine to itself

	if o.Check > 0 {
		if err := check(ctx, store, names, samples, o, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// seriesNames are the metric names of a run, in a fixed order.
func seriesNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		if i%10 == 0 {
			out[i] = fmt.Sprintf("searchload.shape.f%03d.m%06d", (i/10)%300, i)
		} else {
			out[i] = fmt.Sprintf("searchload.walk.h%03d.m%06d", i%1000, i)
		}
	}
	return out
}

// seriesValues returns the values of series i (deterministic).
func seriesValues(i, points int) []float64 {
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	x := make([]float64, points)
	if i%10 == 0 {
		shape(rng, (i/10)%300, x)
		return x
	}
	v := rng.NormFloat64() * 10
	for j := range x {
		v += rng.NormFloat64()
		x[j] = math.Round(v*1000) / 1000
	}
	return x
}

// shape writes a member of one of 300 families (shapes.Fill), rounded to 3 decimals as a
// sender would write it.
func shape(rng *rand.Rand, family int, x []float64) {
	shapes.Fill(rng, family, x)
	for i, v := range x {
		x[i] = math.Round(v*1000) / 1000
	}
}

// seed writes the series whose keys do not exist yet, in batches of 2,000 keys (a second run
// on the same Redis reuses the first run's data; the check reads whatever Redis holds).
func seed(ctx context.Context, store *redisstore.Store, names []string, o Options) error {
	enc := redisstore.NewEncoder()
	end := time.Now().Unix()
	step := int64(o.Step / time.Second)
	if step < 1 {
		step = 1
	}
	first := end - step*int64(o.Points-1)
	keys := make([]string, 0, 2000)
	data := make(map[string][]byte, 2000)
	flush := func() error {
		if len(data) == 0 {
			return nil
		}
		exist, err := store.Exist(ctx, keys)
		if err != nil {
			return err
		}
		for j, k := range keys {
			if exist[j] {
				delete(data, k)
			}
		}
		res := store.Append(ctx, data, nil)
		if res.Err != nil {
			return fmt.Errorf("cannot write the series: %w", res.Err)
		}
		keys, data = keys[:0], make(map[string][]byte, 2000)
		return nil
	}
	for i, name := range names {
		var b []byte
		for j, v := range seriesValues(i, o.Points) {
			b = enc.AppendPair(b, metric.Int(first+int64(j)*step), metric.Float(v))
		}
		k := store.FullKey(name)
		keys = append(keys, k)
		data[k] = b
		if len(data) >= 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// freeAddr returns a free loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// process is the started Kale.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *tailBuffer
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 20 s).
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func startKale(ctx context.Context, o Options) (*process, error) {
	dir, err := os.MkdirTemp("", "kale-searchload-")
	if err != nil {
		return nil, err
	}
	args := []string{o.Command, "--redis", o.Redis, "--webapp", o.Webapp, "--data-dir", dir,
		"--search-rate", "1000", "--search-burst", "1000"}
	if o.Command == "all" {
		for _, l := range []string{"pickle-tcp", "pickle-udp", "msgpack-udp", "plaintext-tcp", "plaintext-udp"} {
			args = append(args, "--"+l, "")
		}
	}
	args = append(args, o.Args...)
	cmd := exec.Command(o.Kale, args...)
	tail := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = tail, tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", o.Kale, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), stderr: tail}
	go func() {
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
		close(p.done)
	}()
	fmt.Fprintf(o.Log, "started %s %s (pid %d)\n", o.Kale, strings.Join(args, " "), cmd.Process.Pid)
	return p, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// status is the part of /api/v1/status a run reads.
type status struct {
	Analyzer struct {
		Ran       bool      `json:"ran"`
		Started   time.Time `json:"started"`
		DurationS float64   `json:"duration_s"`
	} `json:"analyzer"`
	Oculus struct {
		Documents  int  `json:"documents"`
		CatchingUp bool `json:"catching_up"` // true until the first sync has published its series to searches
	} `json:"oculus"`
}

var client = &http.Client{Timeout: 60 * time.Second}

func getStatus(ctx context.Context, base string) (status, error) {
	var st status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /api/v1/status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func waitIndexed(ctx context.Context, base string, n int, limit time.Duration, p *process) error {
	deadline := time.Now().Add(limit)
	for {
		if p.exited() {
			return fmt.Errorf("kale exited before the index was ready; its last output:\n%s", p.stderr.String())
		}
		if st, err := getStatus(ctx, base); err == nil && st.Oculus.Documents >= n && !st.Oculus.CatchingUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the index did not hold %d series within %v", n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// cycleLog collects the analyzer cycles seen by the status poll.
type cycleLog struct {
	mu   sync.Mutex
	seen map[time.Time]float64 // start → duration of completed cycles
	last time.Time             // start of the newest completed cycle
}

func (c *cycleLog) add(start time.Time, d float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[time.Time]float64{}
	}
	c.seen[start] = d
	if start.After(c.last) {
		c.last = start
	}
}

// windows returns the completed cycles, oldest first. The analyzer runs its cycles back to
// back (with a short pause after a quick one), so the time between the end of one and the
// start of the next is idle.
func (c *cycleLog) windows(time.Time) []CycleWindow {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CycleWindow, 0, len(c.seen))
	for s, d := range c.seen {
		out = append(out, CycleWindow{Start: s, Duration: d})
	}
	slices.SortFunc(out, func(a, b CycleWindow) int { return a.Start.Compare(b.Start) })
	return out
}

func pollStatus(ctx context.Context, base string, c *cycleLog) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if st, err := getStatus(ctx, base); err == nil && st.Analyzer.Ran {
			c.add(st.Analyzer.Started, st.Analyzer.DurationS)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// procCPU is the process's CPU time so far (0 when it is gone).
func procCPU(pid int) time.Duration {
	cpu, _ := procstat.CPU(pid)
	return cpu
}
