package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// The hostile-sender acceptance test runs `kale all` in a child process (this test binary,
// re-executed) whose file-descriptor limit is 256, with --max-conns 64 and --search-timeout
// 3s, against a real redis-server, and attacks it the way issue #14 describes: idle
// connections at the cap, stalled 4 MiB pickle frames, a datapoint named like Kale's own key,
// an expensive DTW search and a connection flood past the fd limit. After each attack a real
// sender must still get through and the process must be alive.
const hostileChildEnv = "KALE_HOSTILE_CHILD_ARGS"

// TestMain lets the test binary act as the `kale all` child of TestHostileSenders.
func TestMain(m *testing.M) {
	if args := os.Getenv(hostileChildEnv); args != "" {
		os.Exit(hostileChild(strings.Split(args, "\x1f")))
	}
	os.Exit(m.Run())
}

// hostileChild lowers its fd limit to 256 (soft and hard, like `ulimit -n 256`) and runs kale.
func hostileChild(args []string) int {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "cannot lower the fd limit:", err)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

type hostileKale struct {
	cmd                     *exec.Cmd
	redis                   *redistest.Server
	pickle, plaintext, http string
	exited                  chan struct{} // closed when the child has exited; exitErr is then set
	exitErr                 error
	log                     *bytes.Buffer
}

// seedSeries stores n metrics of a day of 60 s points, so that searches have candidates of
// 1,440 points (the child indexes a 24 h window).
func seedSeries(t *testing.T, srv *redistest.Server, n int) {
	rdb := srv.Client()
	defer rdb.Close()
	ctx := context.Background()
	now := time.Now().Unix() / 60 * 60
	pipe := rdb.Pipeline()
	for m := range n {
		var b []byte
		for i := range 1440 {
			ts := now - int64(1439-i)*60
			v := 100 + 20*math.Sin(float64(i)/float64(60+m%50)) + float64(m%7)
			b = redisstore.AppendPair(b, metric.Int(ts), metric.Float(v))
		}
		key := fmt.Sprintf("metrics.seed.m%04d", m)
		pipe.Append(ctx, key, string(b))
		pipe.SAdd(ctx, "metrics.unique_metrics", key)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
}

func startHostileKale(t *testing.T) *hostileKale {
	srv := redistest.Start(t)
	seedSeries(t, srv, 1000)
	k := &hostileKale{redis: srv, pickle: redistest.FreePort(t, "tcp"), plaintext: redistest.FreePort(t, "tcp"),
		http: redistest.FreePort(t, "tcp"), exited: make(chan struct{}), log: &bytes.Buffer{}}
	args := []string{"all", "--redis", srv.URL(), "--pickle-tcp", k.pickle, "--plaintext-tcp", k.plaintext,
		"--webapp", k.http, "--pickle-udp", "", "--msgpack-udp", "", "--plaintext-udp", "",
		"--max-conns", "64", "--search-timeout", "3s", "--oculus-index", "", "--log-level", "warn",
		"--tcp-idle-timeout", "2m", "--oculus-interval", "5s", "--oculus-window", "24h"}
	k.cmd = exec.Command(os.Args[0], "-test.run=^$")
	k.cmd.Env = append(os.Environ(), hostileChildEnv+"="+strings.Join(args, "\x1f"))
	k.cmd.Stdout, k.cmd.Stderr = io.Discard, &lockedWriter{w: k.log}
	require.NoError(t, k.cmd.Start())
	go func() {
		k.exitErr = k.cmd.Wait()
		close(k.exited)
	}()
	t.Cleanup(func() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(20 * time.Second):
			_ = k.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("kale's log:\n%s", k.log.String())
		}
	})
	require.Eventually(t, func() bool { return k.healthy() }, 30*time.Second, 50*time.Millisecond, "kale all did not start")
	return k
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (k *hostileKale) alive(t *testing.T) {
	t.Helper()
	select {
	case <-k.exited:
		t.Fatalf("kale all exited: %v", k.exitErr)
	default:
	}
}

func (k *hostileKale) healthy() bool {
	c := http.Client{Timeout: 3 * time.Second}
	res, err := c.Get("http://" + k.http + "/healthz")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == http.StatusOK
}

// send delivers one plaintext datapoint on a new connection and reports how long it took to
// appear in Redis (failing after within).
func (k *hostileKale) send(t *testing.T, name string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	rdb := k.redis.Client()
	defer rdb.Close()
	for time.Since(start) < within {
		c, err := net.DialTimeout("tcp", k.plaintext, time.Second)
		if err == nil {
			_, err = fmt.Fprintf(c, "%s 1 %d\n", name, time.Now().Unix())
			_ = c.Close()
		}
		deadline := time.Now().Add(time.Second)
		for err == nil && time.Now().Before(deadline) {
			if n, _ := rdb.Exists(context.Background(), "metrics."+name).Result(); n == 1 {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("datapoint %q not stored within %v", name, within)
	return 0
}

func (k *hostileKale) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", k.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// dialMany opens n TCP connections to addr (those the server does not accept stay in its
// backlog) and returns them; they are closed when the test ends.
func dialMany(t *testing.T, addr string, n int) []net.Conn {
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			continue // a full backlog: the kernel refuses, which is the attacker's problem
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() { closeAll(conns) })
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

func TestHostileSenders(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kale all in a child process")
	}
	k := startHostileKale(t)
	k.send(t, "hostile.warmup", 10*time.Second)

	t.Run("poison name", func(t *testing.T) {
		c, err := net.Dial("tcp", k.plaintext)
		require.NoError(t, err)
		now := time.Now().Unix()
		_, err = fmt.Fprintf(c, "unique_metrics 1 %d\nhostile.poison.a 1 %d\n", now, now)
		require.NoError(t, err)
		_ = c.Close()
		took := k.send(t, "hostile.poison.b", 2500*time.Millisecond)
		t.Logf("good datapoint after unique_metrics stored in %v", took)
		for _, path := range []string{"/api/v1/series?metric=unique_metrics", "/metric/unique_metrics"} {
			res, err := http.Get("http://" + k.http + path)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusNotFound, res.StatusCode, path)
		}
	})

	t.Run("far-future timestamps", func(t *testing.T) {
		c, err := net.Dial("tcp", k.plaintext)
		require.NoError(t, err)
		now := time.Now().Unix()
		_, err = fmt.Fprintf(c, "hostile.future 9 %d\nhostile.future 9 1e300\nhostile.future 9 9223372036854775807\n", now+10*365*86400)
		require.NoError(t, err)
		_ = c.Close()
		k.send(t, "hostile.future", 5*time.Second)
		rdb := k.redis.Client()
		defer rdb.Close()
		b, err := rdb.Get(context.Background(), "metrics.hostile.future").Bytes()
		require.NoError(t, err)
		pts, _ := redisstore.Series(b)
		require.Len(t, pts, 1, "only the datapoint stamped now is stored")
		require.InDelta(t, float64(now), pts[0].Timestamp, 60)
	})

	t.Run("idle connections at the cap", func(t *testing.T) {
		idle := dialMany(t, k.plaintext, 140)
		time.Sleep(200 * time.Millisecond)
		took := k.send(t, "hostile.idle.real", 150*time.Second)
		t.Logf("real sender stored in %v with %d idle connections held", took, len(idle))
		closeAll(idle)
	})

	t.Run("stalled 4 MiB pickle frames", func(t *testing.T) {
		before := k.rss(t)
		const frame = 4 << 20
		body := bytes.Repeat([]byte{'('}, frame-1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var conns []net.Conn
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", k.pickle, 2*time.Second)
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], frame)
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write(hdr[:])
				_, _ = c.Write(body)
			}()
		}
		wg.Wait()
		time.Sleep(2 * time.Second)
		grew := k.rss(t) - before
		t.Logf("RSS grew by %d MB with 60 stalled 4 MiB frames", grew>>20)
		require.LessOrEqual(t, grew, int64(150<<20))
		k.send(t, "hostile.stalled.real", 20*time.Second)
		closeAll(conns)
	})

	t.Run("expensive DTW search", func(t *testing.T) {
		// The 1,000 seeded series are indexed within a sync or two.
		require.Eventually(t, func() bool {
			res, err := http.Get("http://" + k.http + "/api/v1/metrics?prefix=seed.")
			if err != nil {
				return false
			}
			defer res.Body.Close()
			var m struct {
				Total int `json:"total"`
			}
			return json.NewDecoder(res.Body).Decode(&m) == nil && m.Total >= 1000
		}, 30*time.Second, 200*time.Millisecond)
		values := make([]float64, 20_000)
		for i := range values {
			values[i] = float64(i%97) * 1.5
		}
		for _, length := range []any{0, 20_000, nil} {
			q := map[string]any{"values": values, "method": "dtw", "window": 1.0, "k": 1000}
			if length != nil {
				q["length"] = length
			}
			b, err := json.Marshal(q)
			require.NoError(t, err)
			start := time.Now()
			c := http.Client{Timeout: 30 * time.Second}
			res, err := c.Post("http://"+k.http+"/api/v1/search", "application/json", bytes.NewReader(b))
			require.NoError(t, err)
			msg, _ := io.ReadAll(io.LimitReader(res.Body, 400))
			res.Body.Close()
			took := time.Since(start)
			t.Logf("20,000-value DTW search, length %v: HTTP %d in %v: %s", length, res.StatusCode, took, bytes.TrimSpace(msg))
			require.Less(t, took, 6*time.Second)
			require.Contains(t, []int{http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusOK}, res.StatusCode)
		}
		k.alive(t)
	})

	t.Run("connections past the fd limit", func(t *testing.T) {
		flood := dialMany(t, k.plaintext, 400)
		flood = append(flood, dialMany(t, k.http, 400)...)
		time.Sleep(time.Second)
		k.alive(t)
		closeAll(flood)
		k.send(t, "hostile.fd.real", 30*time.Second)
		require.Eventually(t, k.healthy, 10*time.Second, 100*time.Millisecond, "/healthz after the flood")
	})

	k.alive(t)
	require.NoError(t, k.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-k.exited:
		require.NoError(t, k.exitErr, "kale all exits 0 on SIGTERM")
	case <-time.After(20 * time.Second):
		t.Fatal("kale all did not stop within 20 s of SIGTERM")
	}
	require.NotContains(t, k.log.String(), "panic")
}
