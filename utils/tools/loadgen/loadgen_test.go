package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/kale-project/kale/horizon/protocol"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redistest"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"pickle://127.0.0.1:2024", Target{protocol.PickleTCP, "tcp", "127.0.0.1:2024"}},
		{"pickle-tcp://localhost:2024", Target{protocol.PickleTCP, "tcp", "localhost:2024"}},
		{"pickle-udp://127.0.0.1:2024", Target{protocol.PickleUDP, "udp", "127.0.0.1:2024"}},
		{"msgpack://127.0.0.1:2025", Target{protocol.MsgpackUDP, "udp", "127.0.0.1:2025"}},
		{"msgpack-udp://127.0.0.1:2025", Target{protocol.MsgpackUDP, "udp", "127.0.0.1:2025"}},
		{"plaintext://[::1]:2003", Target{protocol.PlaintextTCP, "tcp", "[::1]:2003"}},
		{"PLAINTEXT-UDP://:2003", Target{protocol.PlaintextUDP, "udp", ":2003"}},
	} {
		got, err := ParseTarget(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	require.Equal(t, "pickle-tcp://127.0.0.1:2024", Target{protocol.PickleTCP, "tcp", "127.0.0.1:2024"}.String())

	for _, tc := range []struct{ in, msg string }{
		{"", "want pickle://HOST:PORT"},
		{"127.0.0.1:2024", "want pickle://HOST:PORT"},
		{"http://127.0.0.1:2024", `unknown protocol "http"`},
		{"msgpack-tcp://127.0.0.1:2025", `unknown protocol "msgpack-tcp"`},
		{"pickle://127.0.0.1", "missing port"},
		{"pickle://127.0.0.1:", `port "" is not a number`},
		{"pickle://127.0.0.1:http", `port "http" is not a number`},
		{"pickle://127.0.0.1:0", `port "0" is not a number in 1..65535`},
		{"pickle://127.0.0.1:70000", `port "70000"`},
		{"pickle://127.0.0.1:2024/path", `port "2024/path"`},
		{"pickle://user@host:2024", "want only HOST:PORT"},
	} {
		_, err := ParseTarget(tc.in)
		require.ErrorContains(t, err, tc.msg, tc.in)
		require.ErrorContains(t, err, "cannot parse target", tc.in)
	}
}

func TestPlan(t *testing.T) {
	ps := plan(1000, 10*time.Second, 3)
	require.Equal(t, []pace{{rate: 1000 * 3334.0 / 10000, quota: 3334}, {rate: 1000 * 3333.0 / 10000, quota: 3333}, {rate: 1000 * 3333.0 / 10000, quota: 3333}}, ps)
	require.Equal(t, int64(10000), total(ps))

	require.Equal(t, int64(4), total(plan(2.5, 1500*time.Millisecond, 2)), "round(2.5/s × 1.5 s)")

	free := plan(0, time.Second, 2)
	require.Equal(t, []pace{{quota: unlimited}, {quota: unlimited}}, free)
	require.Zero(t, total(free))
}

func TestPaceDue(t *testing.T) {
	p := pace{rate: 1000, quota: 10_000}
	for _, tc := range []struct {
		elapsed time.Duration
		want    int64
	}{
		{0, 0}, {time.Microsecond, 1}, {slice, 5}, {time.Second, 1000}, {1500 * time.Microsecond, 2},
		{9999 * time.Millisecond, 9999}, {10 * time.Second, 10_000}, {time.Hour, 10_000}, {-time.Second, 0},
	} {
		require.Equal(t, tc.want, p.due(tc.elapsed), "after %v", tc.elapsed)
	}
	require.Equal(t, int64(unlimited), pace{quota: unlimited}.due(time.Millisecond))
}

func TestNames(t *testing.T) {
	require.Equal(t, []string{"loadgen.000000", "loadgen.000001", "loadgen.000002"}, Names("loadgen.", 3))
	require.Equal(t, "x.1234566", Names("x.", 1234567)[1234566])
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		o   Options
		msg string
	}{
		{Options{Target: "nope"}, "cannot parse target"},
		{Options{Target: "pickle://h:1", Metrics: -1}, "invalid --metrics"},
		{Options{Target: "pickle://h:1", Rate: -5}, "invalid --rate"},
		{Options{Target: "pickle://h:1", Duration: -time.Second}, "invalid --duration"},
		{Options{Target: "pickle://h:1", Conns: -1}, "invalid --conns"},
		{Options{Target: "pickle://h:1", Batch: 200_000}, "invalid --batch"},
		{Options{Target: "msgpack://h:1", Batch: 5000}, "more than a UDP datagram holds"},
		{Options{Target: "pickle://h:1", Prefix: "bad name."}, `invalid --prefix: "bad name." has ' '`},
	} {
		_, err := Run(context.Background(), tc.o, io.Discard)
		require.ErrorContains(t, err, tc.msg)
	}

	o := Options{Target: "msgpack://h:1", Metrics: 1}
	_, err := o.normalize()
	require.NoError(t, err)
	require.NotNil(t, o.Now)
	o.Now = nil
	require.Equal(t, Options{Target: "msgpack://h:1", Metrics: 1, Duration: DefaultDuration, Conns: 1, Batch: 20, Prefix: "loadgen.",
		Namespace: "metrics.", VerifyTimeout: time.Minute, VerifyIdle: 2 * time.Second, Progress: time.Second}, o)
	for target, batch := range map[string]int{"pickle://h:1": 500, "plaintext://h:1": 500, "pickle-udp://h:1": 20, "plaintext-udp://h:1": 1} {
		o := Options{Target: target}
		_, err := o.normalize()
		require.NoError(t, err)
		require.Equal(t, batch, o.Batch, target)
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		require.Equal(t, want, group(n))
	}
}

// sink is a TCP listener that reads and discards, counting bytes and pickle frames.
type sink struct {
	addr   string
	bytes  atomic.Int64
	frames atomic.Int64
	wg     sync.WaitGroup
}

func startSink(t testing.TB, framed bool) *sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &sink{addr: l.Addr().String()}
	t.Cleanup(func() { _ = l.Close(); s.wg.Wait() })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if !framed {
					n, _ := io.Copy(io.Discard, c)
					s.bytes.Add(n)
					return
				}
				var hdr [4]byte
				buf := make([]byte, 1<<20)
				for {
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					n := binary.BigEndian.Uint32(hdr[:])
					if _, err := io.ReadFull(c, buf[:n]); err != nil {
						return
					}
					s.bytes.Add(int64(4 + n))
					s.frames.Add(1)
				}
			}()
		}
	}()
	return s
}

// A paced run sends exactly rate × duration datapoints, evenly, in well-formed frames.
func TestRunPacedAgainstSink(t *testing.T) {
	s := startSink(t, true)
	var out bytes.Buffer
	start := time.Now()
	rep, err := Run(context.Background(), Options{Target: "pickle://" + s.addr, Metrics: 10, Rate: 2000, Duration: 600 * time.Millisecond,
		Progress: 200 * time.Millisecond}, &out)
	require.NoError(t, err)
	took := time.Since(start)
	require.Equal(t, int64(1200), rep.Planned)
	require.Equal(t, int64(1200), rep.Sent)
	require.GreaterOrEqual(t, took, 550*time.Millisecond, "paced over the duration, not in one burst")
	require.Less(t, took, 10*time.Second)
	require.LessOrEqual(t, rep.Rate(), 2000*1.1, "never ahead of schedule")
	require.Eventually(t, func() bool { return s.bytes.Load() == rep.Bytes }, time.Second, 5*time.Millisecond)
	require.Equal(t, rep.Payloads, s.frames.Load())
	require.Greater(t, rep.Payloads, int64(10), "small frames every slice, not one burst per second")
	require.Contains(t, out.String(), "loadgen: sending 2,000 datapoints/s to pickle-tcp://")
	require.Contains(t, out.String(), "s sent ")
	require.Contains(t, out.String(), "sent 1,200 datapoints of 10 metrics")
}

// Without a rate the generator sends as fast as it can for the duration.
func TestRunUnlimitedAgainstSink(t *testing.T) {
	s := startSink(t, false)
	rep, err := Run(context.Background(), Options{Target: "plaintext://" + s.addr, Duration: 200 * time.Millisecond, Progress: -1}, io.Discard)
	require.NoError(t, err)
	require.Greater(t, rep.Sent, int64(10_000))
	require.Zero(t, rep.Planned)
	require.Eventually(t, func() bool { return s.bytes.Load() == rep.Bytes }, time.Second, 5*time.Millisecond)
}

func TestRunCancelled(t *testing.T) {
	s := startSink(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Options{Target: "plaintext://" + s.addr, Rate: 1000, Duration: time.Minute, Progress: -1}, io.Discard)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Less(t, rep.Sent, int64(1000))
}

func TestRunConnectionRefused(t *testing.T) {
	addr := redistest.FreePort(t, "tcp")
	_, err := Run(context.Background(), Options{Target: "pickle://" + addr, Duration: time.Second}, io.Discard)
	require.ErrorContains(t, err, "cannot connect to pickle-tcp://"+addr)

	// UDP cannot tell at connect time; the kernel refuses later datagrams and they are counted.
	udp := redistest.FreePort(t, "udp")
	rep, err := Run(context.Background(), Options{Target: "msgpack://" + udp, Rate: 2000, Duration: 200 * time.Millisecond, Progress: -1}, io.Discard)
	require.NoError(t, err)
	require.Greater(t, rep.Failed, int64(0))
	require.Contains(t, rep.String(), "refused their datagrams")
}

func TestRunVerifyRedisUnreachable(t *testing.T) {
	s := startSink(t, false)
	_, err := Run(context.Background(), Options{Target: "plaintext://" + s.addr, VerifyRedis: "redis://" + redistest.FreePort(t, "tcp") + "/0"}, io.Discard)
	require.ErrorContains(t, err, "cannot reach Redis")
	_, err = Run(context.Background(), Options{Target: "plaintext://" + s.addr, VerifyRedis: "mysql://x"}, io.Discard)
	require.ErrorContains(t, err, "cannot open --verify-redis")
	_, err = Run(context.Background(), Options{Target: "plaintext://" + s.addr, VerifyRedis: "embedded"}, io.Discard)
	require.ErrorContains(t, err, "cannot verify in an embedded Redis")
}

func TestReportString(t *testing.T) {
	r := Report{Target: Target{protocol.PickleTCP, "tcp", "h:1"}, Metrics: 1000, Planned: 2_000_000, Sent: 1_000_000, Bytes: 36_000_000,
		Payloads: 2000, Duration: time.Second, Elapsed: 2 * time.Second, Verified: true, Stored: 999_000}
	require.Equal(t, int64(1000), r.Lost())
	require.InDelta(t, 0.1, r.LossPct(), 1e-9)
	s := r.String()
	for _, want := range []string{
		"loadgen pickle-tcp://h:1: sent 1,000,000 datapoints of 1,000 metrics in 2.00s = 500,000 datapoints/s, 36,000,000 bytes in 2,000 payloads",
		"stopped early: planned 2,000,000",
		"behind schedule: took 2.00s for a 1s run",
		"verified in Redis: stored 999,000 of 1,000,000, lost 1,000 (0.100%)",
	} {
		require.Contains(t, s, want)
	}
	require.False(t, strings.Contains(Report{}.String(), "verified"))
	require.Zero(t, Report{Sent: 5}.Lost(), "not verified: no loss claimed")
}
