// Command capacity measures what Kale needs for N metrics (issue #13): it seeds a Redis with
// N metrics of P points (a day at 60 s by default), keeps appending one point per metric and
// step while it runs, starts `kale all` (or another command) on it, and reports
//
//   - the peak resident set of the kale process (VmHWM of /proc/<pid>/status),
//   - the first (cold) analyzer cycle and the warm cycles after it (the "analyzer cycle" log
//     lines' seconds),
//   - the first cycle after a kill -9 and a restart (the kale detector states checkpointed
//     so far are loaded),
//   - the CPU seconds the process used, and Redis's used_memory before and after.
//
// Run it from the repository root after `go build -o bin/kale ./utils/cmd/kale`:
//
//	go run ./utils/tools/capacity -metrics 100000
//
// It starts its own redis-server on a free loopback port unless -redis is given, and stops
// everything it started. The machine's other load shows in the figures: run it on an idle box
// for numbers to compare.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/tools/procstat"
)

type options struct {
	metrics, points, warm int
	step                  time.Duration
	kale, command, redis  string
	kill                  bool
	timeout               time.Duration
	extra                 []string
}

func main() {
	var o options
	flag.IntVar(&o.metrics, "metrics", 100_000, "metrics to seed")
	flag.IntVar(&o.points, "points", 1440, "points per metric")
	flag.DurationVar(&o.step, "step", time.Minute, "time between points; one point per metric is appended every step while kale runs")
	flag.IntVar(&o.warm, "warm", 4, "warm cycles to wait for after the first")
	flag.StringVar(&o.kale, "kale", "bin/kale", "kale binary")
	flag.StringVar(&o.command, "command", "all", "kale command to run (all or analyzer)")
	flag.StringVar(&o.redis, "redis", "", "Redis URL to seed (default: start a redis-server on a free loopback port); it is flushed")
	flag.BoolVar(&o.kill, "kill", true, "then kill -9 kale, restart it and time its first cycle")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up after this long")
	flag.Parse()
	o.extra = flag.Args()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, o.timeout)
	defer cancel2()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "kale-capacity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	url := o.redis
	if url == "" {
		stop, u, err := startRedis(dir)
		if err != nil {
			return err
		}
		defer stop()
		url = u
	}
	store, err := redisstore.Open(url, redisstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Client().FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("cannot flush %s: %w", url, err)
	}
	t0 := time.Now()
	end, err := seed(ctx, store, o)
	if err != nil {
		return err
	}
	seeded := usedMemory(ctx, store)
	fmt.Printf("seeded %d metrics x %d points in %.1fs; Redis used_memory %.0f MB\n",
		o.metrics, o.points, time.Since(t0).Seconds(), seeded/1e6)

	fctx, stopFeed := context.WithCancel(ctx)
	var fed sync.WaitGroup
	fed.Go(func() { feed(fctx, store, o, end) })
	defer func() { stopFeed(); fed.Wait() }()

	first, err := start(ctx, o, url, dir)
	if err != nil {
		return err
	}
	res, err := first.cycles(ctx, 1+o.warm)
	peak, cpu := first.peak(), first.cpu()
	if err != nil {
		first.kill()
		return err
	}
	fmt.Printf("run 1: peak RSS %.0f MB, CPU %.1fs\n", peak/1e6, cpu)
	fmt.Printf("cold first cycle: %.2fs\n", res[0].seconds)
	for i, c := range res[1:] {
		fmt.Printf("warm cycle %d: %.2fs (%s)\n", i+1, c.seconds, c.states)
	}
	if o.kill {
		first.kill()
		second, err := start(ctx, o, url, dir)
		if err != nil {
			return err
		}
		// The killed analyzer's lease outlives it (--analyzer-lease): until it expires, the
		// restarted one analyses its own share only. Wait for the first cycle over them all.
		var r2 []cycle
		for len(r2) < 8 && (len(r2) == 0 || r2[len(r2)-1].assigned < r2[len(r2)-1].total) {
			c, err := second.cycles(ctx, 1)
			if err != nil {
				second.stop()
				return err
			}
			r2 = append(r2, c...)
		}
		second.stop()
		peak = max(peak, second.peak())
		fmt.Printf("after kill -9: first cycle %.2fs over %.0f of %.0f metrics (%s)\n", r2[0].seconds, r2[0].assigned, r2[0].total, r2[0].states)
		if n := len(r2); n > 1 {
			fmt.Printf("after kill -9: first cycle over every metric (cycle %d) %.2fs (%s)\n", n, r2[n-1].seconds, r2[n-1].states)
		}
		fmt.Printf("peak RSS of the restarted process %.0f MB\n", second.peak()/1e6)
	} else {
		first.stop()
	}
	fmt.Printf("Redis used_memory at the end: %.0f MB (%.0f MB more than the seeded series: detector states, records)\n",
		usedMemory(ctx, store)/1e6, (usedMemory(ctx, store)-seeded)/1e6)
	series, seriesLen := keyMemory(ctx, store, o.metrics, func(m int) string { return name(m) })
	states, stateLen := keyMemory(ctx, store, o.metrics, func(m int) string { return "kale.state." + name(m)[len("metrics."):] })
	fmt.Printf("Redis MEMORY USAGE per key (mean of a sample): series %.0f B (%.0f B stored), detector state %.0f B (%.0f B stored)\n",
		series, seriesLen, states, stateLen)
	fmt.Printf("peak RSS overall: %.0f MB\n", peak/1e6)
	return nil
}

// keyMemory returns the mean MEMORY USAGE and STRLEN of up to 200 keys spread over the
// metrics (missing keys left out).
func keyMemory(ctx context.Context, store *redisstore.Store, n int, key func(int) string) (usage, length float64) {
	got := 0
	for m := 0; m < n; m += max(1, n/200) {
		u, err := store.Client().MemoryUsage(ctx, key(m)).Result()
		if err != nil || u == 0 {
			continue
		}
		l, _ := store.Client().StrLen(ctx, key(m)).Result()
		usage += float64(u)
		length += float64(l)
		got++
	}
	if got == 0 {
		return math.NaN(), math.NaN()
	}
	return usage / float64(got), length / float64(got)
}

// startRedis runs a redis-server without persistence on a free loopback port.
func startRedis(dir string) (func(), string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("cannot start redis-server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return stop, "redis://" + addr + "/0", nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return nil, "", errors.New("redis-server did not start listening")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func name(m int) string { return fmt.Sprintf("metrics.capacity.host%04d.m%02d", m/100, m%100) }

// value is metric m's value at row i: a daily sine with its own phase plus deterministic
// noise; one metric in 50 has a spike in its last hour.
func value(m, i, points int) float64 {
	phase := float64(m%97) / 97
	v := 100 + 20*math.Sin(2*math.Pi*(float64(i)/1440+phase)) + float64((m*31+i*17)%13)
	if m%50 == 0 && i == points-30 {
		v += 400
	}
	return math.Round(v*100) / 100
}

// seed stores every metric's points, the last stamped now, and returns that time.
func seed(ctx context.Context, store *redisstore.Store, o options) (int64, error) {
	end := time.Now().Truncate(o.step).Unix()
	step := int64(o.step.Seconds())
	e := redisstore.NewEncoder()
	batch := map[string][]byte{}
	for m := range o.metrics {
		var raw []byte
		for i := range o.points {
			raw = e.AppendPair(raw, metric.Int(end-int64(o.points-1-i)*step), metric.Float(value(m, i, o.points)))
		}
		batch[name(m)] = raw
		if len(batch) == 500 || m == o.metrics-1 {
			if err := store.Append(ctx, batch, nil).Err; err != nil {
				return 0, err
			}
			batch = map[string][]byte{}
		}
	}
	return end, nil
}

// feed appends one point per metric every step, as a live ingest would.
func feed(ctx context.Context, store *redisstore.Store, o options, last int64) {
	e := redisstore.NewEncoder()
	step := int64(o.step.Seconds())
	for row := o.points; ; row++ {
		next := time.Unix(last+step, 0)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		last += step
		batch := make(map[string][]byte, 4096)
		for m := range o.metrics {
			batch[name(m)] = e.AppendPair(nil, metric.Int(last), metric.Float(value(m, row%1440, 0)))
			if len(batch) == 4096 || m == o.metrics-1 {
				if err := store.Append(ctx, batch, nil).Err; err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "capacity: feed:", err)
				}
				batch = make(map[string][]byte, 4096)
			}
		}
	}
}

func usedMemory(ctx context.Context, store *redisstore.Store) float64 {
	info, _, err := store.ServerInfo(ctx)
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return math.NaN()
}

// proc is one running kale process, its log lines parsed as they come.
type proc struct {
	cmd     *exec.Cmd
	lines   chan map[string]any
	mu      sync.Mutex
	hwm     float64 // bytes
	ticks   float64 // utime + stime, seconds
	lastCPU float64 // ticks at the last cycle line
	done    chan struct{}
}

func start(ctx context.Context, o options, url, dir string) (*proc, error) {
	args := []string{o.command, "--redis", url, "--log-format", "json", "--data-dir", filepath.Join(dir, "data")}
	ports := []string{"--pickle-tcp", "--pickle-udp", "--msgpack-udp", "--plaintext-tcp", "--plaintext-udp",
		"--ingest-http", "--statsd-udp", "--webapp", "--metrics-addr"}
	if o.command == "all" || o.command == "webapp" || o.command == "horizon" {
		for _, p := range ports {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			args = append(args, p, "127.0.0.1:"+strconv.Itoa(port))
		}
	}
	args = append(args, o.extra...)
	cmd := exec.Command(o.kale, args...)
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", o.kale, err)
	}
	p := &proc{cmd: cmd, lines: make(chan map[string]any, 64), done: make(chan struct{})}
	go p.read(out)
	go p.watch(ctx)
	return p, nil
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if lvl, _ := m["level"].(string); lvl == "WARN" || lvl == "ERROR" {
			fmt.Fprintf(os.Stderr, "kale: %s\n", sc.Text())
		}
		select {
		case p.lines <- m:
		default: // nobody waits for this line
		}
	}
	close(p.lines)
}

// watch samples VmHWM and the CPU time until the process ends.
func (p *proc) watch(ctx context.Context) {
	defer close(p.done)
	pid := p.cmd.Process.Pid
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		_, peak, _ := procstat.Memory(pid)
		cpu, alive := procstat.CPU(pid)
		if !alive {
			return
		}
		p.mu.Lock()
		p.hwm = max(p.hwm, peak*(1<<20))
		p.ticks = cpu.Seconds()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *proc) peak() float64 { p.mu.Lock(); defer p.mu.Unlock(); return p.hwm }
func (p *proc) cpu() float64  { p.mu.Lock(); defer p.mu.Unlock(); return p.ticks }

type cycle struct {
	seconds         float64
	cpu             float64 // CPU seconds the whole process used since the previous cycle line
	assigned, total float64
	states          string
}

// cycles waits for n "analyzer cycle" lines and returns their durations, each with the
// "kale detector states" line logged right after it (waited for at most 3 s after the last
// cycle: the skyline detector logs none).
func (p *proc) cycles(ctx context.Context, n int) ([]cycle, error) {
	var out []cycle
	var grace <-chan time.Time
	for len(out) < n || out[len(out)-1].states == "" {
		if len(out) == n && grace == nil {
			grace = time.After(3 * time.Second)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-grace:
			return out, nil
		case m, ok := <-p.lines:
			if !ok {
				return out, fmt.Errorf("kale exited after %d cycles", len(out))
			}
			switch m["msg"] {
			case "analyzer cycle":
				s, _ := m["seconds"].(string)
				f, _ := strconv.ParseFloat(s, 64)
				assigned, _ := m["assigned"].(float64)
				total, _ := m["metrics"].(float64)
				cpu := p.cpu()
				out = append(out, cycle{seconds: f, cpu: cpu - p.lastCPU, assigned: assigned, total: total})
				p.lastCPU = cpu
				fmt.Printf("  cycle %d: %.2fs (process CPU since the last cycle %.1fs, RSS peak so far %.0f MB) assigned %v analysed %v anomalies %v exceptions %v\n",
					len(out), f, out[len(out)-1].cpu, p.peak()/1e6, m["assigned"], m["analysed"], m["anomalies"], m["exceptions"])
			case "kale detector states":
				if len(out) > 0 {
					delete(m, "time")
					delete(m, "level")
					delete(m, "msg")
					delete(m, "component")
					b, _ := json.Marshal(m)
					out[len(out)-1].states = string(b)
				}
			}
		}
	}
	return out, nil
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	<-p.done
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-done
	}
	<-p.done
}
