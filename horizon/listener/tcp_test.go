package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
)

// closedByServer reports whether the server closed c within d (a read ends in EOF or reset
// rather than the client's own deadline).
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func dial(t *testing.T, a string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", a)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func connections(stats *telemetry.Stats, proto string) float64 {
	return testutil.ToFloat64(stats.Connections.WithLabelValues(proto))
}

// payload is one datapoint in a protocol's framing (the tests decode plaintext in both).
func payload(f Framing, name string) []byte {
	line := name + " 1 1700000000\n"
	if f == LengthPrefixed {
		return frame(line)
	}
	return []byte(line)
}

// At --max-conns the connection idle longest is evicted to admit a newcomer, whose data is
// stored; a connection making progress inside a payload is spared even if it is older.
func TestTCPEvictsIdlestAtCap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proto   string
		framing Framing
		partial []byte // what the oldest connection sends before the others connect
		spared  bool   // the oldest connection is making progress and must not be evicted
	}{
		{"pickle idle", protocol.PickleTCP, LengthPrefixed, nil, false},
		{"plaintext idle", protocol.PlaintextTCP, Lines, nil, false},
		{"pickle mid-frame", protocol.PickleTCP, LengthPrefixed, frame("mid.frame 1 1700000000\n")[:10], true},
		{"plaintext mid-line", protocol.PlaintextTCP, Lines, []byte("mid.li"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := telemetry.New(nil)
			sk := &sink{}
			l := &TCP{Config: baseConfig("127.0.0.1:0", tc.proto, sk, stats), Framing: tc.framing, MaxConns: 2}
			stop := startTCP(t, l)
			defer stop()
			oldest := dial(t, l.BoundAddr())
			if tc.partial != nil {
				_, err := oldest.Write(tc.partial)
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { return connections(stats, tc.proto) == 1 }, time.Second, time.Millisecond)
			time.Sleep(20 * time.Millisecond) // the oldest has read its bytes before the next connection
			idle := dial(t, l.BoundAddr())
			require.Eventually(t, func() bool { return connections(stats, tc.proto) == 2 }, time.Second, time.Millisecond)

			sender := dial(t, l.BoundAddr())
			_, err := sender.Write(payload(tc.framing, "real.sender"))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return sk.len() == 1 }, 2*time.Second, time.Millisecond)
			require.Equal(t, 1.0, rejected(stats, tc.proto, ingest.Evicted))
			evicted, kept := oldest, idle
			if tc.spared {
				evicted, kept = idle, oldest
			}
			require.True(t, closedByServer(evicted, 2*time.Second), "the idlest connection is evicted")
			require.False(t, closedByServer(kept, 50*time.Millisecond), "the other one is kept")
		})
	}
}

// A connection that sends nothing for --tcp-idle-timeout is closed, between payloads or
// inside one; a payload cut short that way is counted as malformed.
func TestTCPIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		proto     string
		framing   Framing
		send      []byte
		malformed float64
	}{
		{"pickle silent", protocol.PickleTCP, LengthPrefixed, nil, 0},
		{"pickle after a frame", protocol.PickleTCP, LengthPrefixed, frame("a.b 1 1700000000\n"), 0},
		{"pickle mid-frame", protocol.PickleTCP, LengthPrefixed, frame("a.b 1 1700000000\n")[:8], 1},
		{"plaintext silent", protocol.PlaintextTCP, Lines, nil, 0},
		{"plaintext mid-line", protocol.PlaintextTCP, Lines, []byte("a.b 1 17"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := telemetry.New(nil)
			l := &TCP{Config: baseConfig("127.0.0.1:0", tc.proto, &sink{}, stats), Framing: tc.framing, MaxConns: 10,
				IdleTimeout: 100 * time.Millisecond}
			stop := startTCP(t, l)
			defer stop()
			c := dial(t, l.BoundAddr())
			_, err := c.Write(tc.send)
			require.NoError(t, err)
			start := time.Now()
			require.True(t, closedByServer(c, 2*time.Second))
			require.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
			require.Eventually(t, func() bool { return connections(stats, tc.proto) == 0 }, time.Second, time.Millisecond)
			require.Equal(t, tc.malformed, rejected(stats, tc.proto, ingest.Malformed))
			require.Zero(t, l.Budget.Used())
		})
	}
}

// failingListener returns EMFILE from the accepts numbered in fail (from 0), else accepts.
type failingListener struct {
	net.Listener
	n    atomic.Int32
	fail func(i int32) bool
}

func (f *failingListener) Accept() (net.Conn, error) {
	if f.fail(f.n.Add(1) - 1) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return f.Listener.Accept()
}

// Failed accepts back off and retry, are counted, and never end Run; out of file
// descriptors, the idle connection is evicted so the newcomer gets one.
func TestTCPAcceptErrorsBackOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    func(i int32) bool
		idle    bool // connect an idle connection first (accepted by accept 0)
		evicted float64
	}{
		{"first accepts fail", func(i int32) bool { return i < 4 }, false, 0},
		{"fds exhausted with an idle connection", func(i int32) bool { return i >= 1 && i < 5 }, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := telemetry.New(nil)
			sk := &sink{}
			real, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			l := &TCP{Config: baseConfig("127.0.0.1:0", protocol.PlaintextTCP, sk, stats), Framing: Lines, MaxConns: 10,
				DrainTimeout: 20 * time.Millisecond}
			l.state = State{Protocol: l.Proto.Name, Addr: l.Addr}
			l.use(&failingListener{Listener: real, fail: tc.fail})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var idle net.Conn
			if tc.idle {
				idle = dial(t, l.BoundAddr()) // waits in the backlog for accept 0
			}
			go func() { done <- l.Run(ctx) }()
			c := dial(t, l.BoundAddr())
			_, err = c.Write(payload(Lines, "after.emfile"))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return sk.len() == 1 }, 3*time.Second, time.Millisecond)
			require.Equal(t, 4.0, testutil.ToFloat64(stats.AcceptErrors.WithLabelValues(protocol.PlaintextTCP)))
			require.Equal(t, tc.evicted, rejected(stats, protocol.PlaintextTCP, ingest.Evicted))
			if tc.idle {
				require.True(t, closedByServer(idle, time.Second))
			}
			require.True(t, l.State().Up)
			cancel()
			require.NoError(t, <-done)
		})
	}
}

func TestAcceptDelayDoubles(t *testing.T) {
	stats := telemetry.New(nil)
	l := &TCP{Config: baseConfig("127.0.0.1:0", protocol.PickleTCP, &sink{}, stats)}
	l.defaults()
	var got []time.Duration
	d := time.Duration(0)
	for range 10 {
		d = l.acceptFailed(errors.New("boom"), d)
		got = append(got, d)
	}
	require.Equal(t, []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond,
		80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond, time.Second, time.Second}, got)
}

// blockingSink holds every Put until released.
type blockingSink struct {
	sink
	gate chan struct{}
}

func (b *blockingSink) Put(ctx context.Context, p *telemetry.Proto, pts []metric.Point, wait bool) error {
	select {
	case <-b.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.sink.Put(ctx, p, pts, wait)
}

// lines is n plaintext datapoints.
func lines(prefix string, n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%s.%d %d 1700000000\n", prefix, i, i)
	}
	return sb.String()
}

// Connections stalled inside frames bigger than the budget cannot starve a good sender: the
// stalled ones are evicted, the good frame gets through quickly, and every byte is returned
// to the budget once the connections are gone.
func TestBudgetEvictsStalledFrames(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	budget := NewBudget(256<<10, stats.Inflight)
	budget.stallAfter, budget.waitMax = 100*time.Millisecond, 5*time.Second
	cfg := baseConfig("127.0.0.1:0", protocol.PickleTCP, sk, stats)
	cfg.Limits = ingest.Limits{MaxNameLen: 255, MaxItems: 100_000, MaxPayload: 1 << 20}
	l := &TCP{Config: cfg, Framing: LengthPrefixed, MaxConns: 100, Budget: budget}
	stop := startTCP(t, l)
	defer stop()

	var stalled []net.Conn
	for range 4 {
		c := dial(t, l.BoundAddr())
		f := frame(strings.Repeat("x", 512<<10))
		_, err := c.Write(f[:4+200<<10]) // a 512 KiB frame, 200 KiB of it sent
		require.NoError(t, err)
		stalled = append(stalled, c)
	}
	require.Eventually(t, func() bool { return budget.Used() > 128<<10 }, 2*time.Second, time.Millisecond)

	good := lines("good", 5000) // about 100 KiB: read in two chunks
	start := time.Now()
	c := dial(t, l.BoundAddr())
	_, err := c.Write(frame(good))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sk.len() == 5000 }, 3*time.Second, time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second)
	require.GreaterOrEqual(t, rejected(stats, protocol.PickleTCP, ingest.Evicted), 1.0)
	require.LessOrEqual(t, testutil.ToFloat64(stats.Inflight), float64(256<<10+64<<10))

	for _, s := range stalled {
		_ = s.Close()
	}
	_ = c.Close()
	require.Eventually(t, func() bool { return testutil.ToFloat64(stats.Inflight) == 0 && budget.Used() == 0 },
		2*time.Second, time.Millisecond)
}

// A frame that cannot get budget because the holders are busy (not stalled) is refused after
// the wait, counted over_budget, and its connection closed; the holder then completes.
func TestBudgetRefusesAfterWait(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &blockingSink{gate: make(chan struct{})}
	budget := NewBudget(64<<10, stats.Inflight)
	budget.stallAfter, budget.waitMax = 50*time.Millisecond, 300*time.Millisecond
	cfg := baseConfig("127.0.0.1:0", protocol.PickleTCP, sk, stats)
	cfg.Limits = ingest.Limits{MaxNameLen: 255, MaxItems: 100_000, MaxPayload: 1 << 20}
	l := &TCP{Config: cfg, Framing: LengthPrefixed, MaxConns: 100, Budget: budget}
	stop := startTCP(t, l)
	defer stop()

	holder := dial(t, l.BoundAddr())
	_, err := holder.Write(frame(lines("holder", 2000))) // about 50 KiB, stuck in the sink
	require.NoError(t, err)
	require.Eventually(t, func() bool { return budget.Used() > 32<<10 }, 2*time.Second, time.Millisecond)
	refused := dial(t, l.BoundAddr())
	_, err = refused.Write(frame(lines("refused", 1000)))
	require.NoError(t, err)
	require.True(t, closedByServer(refused, 3*time.Second))
	require.Equal(t, 1.0, rejected(stats, protocol.PickleTCP, ingest.OverBudget))
	require.Zero(t, rejected(stats, protocol.PickleTCP, ingest.Evicted), "a holder waiting for the sink is not stalled")
	close(sk.gate)
	require.Eventually(t, func() bool { return sk.len() == 2000 && budget.Used() == 0 }, 2*time.Second, time.Millisecond)
}

// A plaintext connection's buffer grows past its fixed base only with budget, and gives the
// growth back once the long line is complete.
func TestBudgetPlaintextGrowth(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	cfg := baseConfig("127.0.0.1:0", protocol.PlaintextTCP, sk, stats)
	cfg.Limits.MaxPayload = 1 << 20 // a whole read buffer is decoded at once
	l := &TCP{Config: cfg, Framing: Lines, MaxConns: 10}
	stop := startTCP(t, l)
	defer stop()
	c := dial(t, l.BoundAddr())
	name := strings.Repeat("n", 200)
	long := strings.Repeat(name+" 1 1700000000\n", 100) + "partial." + strings.Repeat("p", 10<<10)
	_, err := c.Write([]byte(long))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return l.Budget.Used() > 0 }, 2*time.Second, time.Millisecond)
	_, err = c.Write([]byte(" 1 1700000000\n"))
	require.NoError(t, err)
	_, err = c.Write([]byte("short 1 1700000000\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sk.len() == 101 && l.Budget.Used() == 0 }, 2*time.Second, time.Millisecond)
}

// What senders wrote before the stop reaches the sink: the listener drains its connections.
func TestTCPDrainOnStop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proto   string
		framing Framing
	}{
		{"pickle", protocol.PickleTCP, LengthPrefixed},
		{"plaintext", protocol.PlaintextTCP, Lines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const conns, n = 4, 500
			stats := telemetry.New(nil)
			sk := &sink{}
			cfg := baseConfig("127.0.0.1:0", tc.proto, sk, stats)
			cfg.Limits.MaxPayload = 1 << 20
			l := &TCP{Config: cfg, Framing: tc.framing, MaxConns: 10, DrainTimeout: 500 * time.Millisecond}
			require.NoError(t, l.Listen())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx) }()
			var cs []net.Conn
			for range conns {
				cs = append(cs, dial(t, l.BoundAddr()))
			}
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Go(func() {
					for j := range n {
						_, err := c.Write(payload(tc.framing, fmt.Sprintf("drain.%d.%d", i, j)))
						require.NoError(t, err)
					}
				})
			}
			wg.Wait()
			cancel()
			require.NoError(t, <-done)
			require.Equal(t, conns*n, sk.len())
		})
	}
}
