package listener

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/horizon/writer"
	"github.com/kale-project/kale/utils/metric"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink collects what listeners hand over; full makes it refuse like a full writer.
type sink struct {
	mu   sync.Mutex
	pts  []metric.Point
	full bool
}

func (s *sink) Put(_ context.Context, _ *telemetry.Proto, pts []metric.Point, _ bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return writer.ErrFull
	}
	s.pts = append(s.pts, pts...)
	return nil
}

func (s *sink) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.pts) }

func baseConfig(addr, proto string, sk Sink, stats *telemetry.Stats) Config {
	return Config{Addr: addr, Decode: plaintext.Decode, Limits: ingest.Limits{MaxNameLen: 255, MaxItems: 1000, MaxPayload: 4096},
		Sink: sk, Proto: stats.Proto(proto), Stats: stats, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func rejected(stats *telemetry.Stats, proto string, r ingest.Reason) float64 {
	return testutil.ToFloat64(stats.Rejected.WithLabelValues(proto, r.String()))
}

func frame(payload string) []byte {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func startTCP(t *testing.T, l *TCP) (stop func()) {
	t.Helper()
	if l.DrainTimeout == 0 {
		l.DrainTimeout = 20 * time.Millisecond // connections left open must not slow every test down
	}
	require.NoError(t, l.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() { cancel(); require.NoError(t, <-done) }
}

// Stopping and starting again on the same port works, repeatedly.
func TestTCPRestartSamePort(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	addr := "127.0.0.1:0"
	for i := range 5 {
		l := &TCP{Config: baseConfig(addr, protocol.PlaintextTCP, sk, stats), Framing: Lines, MaxConns: 10}
		stop := startTCP(t, l)
		addr = l.BoundAddr()
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, "restart.m %d 1700000000\n", i)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return sk.len() == i+1 }, 2*time.Second, 5*time.Millisecond)
		_ = c.Close()
		stop()
		require.False(t, l.State().Up)
	}
}

func TestUDPRestartSamePort(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	addr := "127.0.0.1:0"
	for i := range 5 {
		u := &UDP{Config: baseConfig(addr, protocol.PlaintextUDP, sk, stats), Readers: 2}
		require.NoError(t, u.Listen())
		addr = u.BoundAddr()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- u.Run(ctx) }()
		c, err := net.Dial("udp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, "udp.m %d 1700000000\n", i)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return sk.len() == i+1 }, 2*time.Second, 5*time.Millisecond)
		_ = c.Close()
		cancel()
		require.NoError(t, <-done)
	}
}

func TestTCPManyConnectionsAndBadInput(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	l := &TCP{Config: baseConfig("127.0.0.1:0", protocol.PickleTCP, sk, stats), Framing: LengthPrefixed, MaxConns: 100}
	stop := startTCP(t, l)
	defer stop()

	var wg sync.WaitGroup
	for c := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", l.BoundAddr())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for i := range 50 {
				_, _ = conn.Write(frame(fmt.Sprintf("c%d.m %d %d\n", c, i, 1700000000+i)))
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return sk.len() == 1000 }, 3*time.Second, 5*time.Millisecond)

	// A frame over the limit closes that connection only; a truncated frame too.
	bad, err := net.Dial("tcp", l.BoundAddr())
	require.NoError(t, err)
	_, _ = bad.Write([]byte{0xff, 0xff, 0xff, 0xff})
	_, err = bad.Read(make([]byte, 1))
	require.Error(t, err, "the server closes a connection that declared a huge frame")
	_ = bad.Close()
	trunc, err := net.Dial("tcp", l.BoundAddr())
	require.NoError(t, err)
	_, _ = trunc.Write(frame("x.y 1 2\n")[:6])
	_ = trunc.Close()
	// Garbage inside a valid frame is counted; the connection keeps working.
	good, err := net.Dial("tcp", l.BoundAddr())
	require.NoError(t, err)
	defer good.Close()
	_, _ = good.Write(frame("\x00\x01garbage\n"))
	_, _ = good.Write(frame("after.garbage 1 1700000000\n"))
	require.Eventually(t, func() bool { return sk.len() == 1001 }, 2*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return rejected(stats, protocol.PickleTCP, ingest.TooLarge) == 1 && rejected(stats, protocol.PickleTCP, ingest.Malformed) >= 1
	}, 2*time.Second, 5*time.Millisecond)
	require.True(t, l.State().Up)
}

func TestPlaintextLines(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{}
	l := &TCP{Config: baseConfig("127.0.0.1:0", protocol.PlaintextTCP, sk, stats), Framing: Lines, MaxConns: 10}
	stop := startTCP(t, l)
	defer stop()
	c, err := net.Dial("tcp", l.BoundAddr())
	require.NoError(t, err)
	long := strings.Repeat("x", 3*maxLine)
	// Lines split across writes, an over-long line, a bad line, and a last line without '\n'.
	for _, part := range []string{"a.b 1 17000", "00000\nc.d 2 1700000000\n", long, " 1 1700000000\nnot a line\n", "e.f 3 1700000000"} {
		_, err = c.Write([]byte(part))
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
	}
	_ = c.Close()
	require.Eventually(t, func() bool { return sk.len() == 3 }, 2*time.Second, 5*time.Millisecond)
	sk.mu.Lock()
	names := []string{sk.pts[0].Name, sk.pts[1].Name, sk.pts[2].Name}
	sk.mu.Unlock()
	require.Equal(t, []string{"a.b", "c.d", "e.f"}, names)
	require.Equal(t, 1.0, rejected(stats, protocol.PlaintextTCP, ingest.TooLarge))
}

func TestUDPQueueFullIsCounted(t *testing.T) {
	stats := telemetry.New(nil)
	sk := &sink{full: true}
	u := &UDP{Config: baseConfig("127.0.0.1:0", protocol.PlaintextUDP, sk, stats), Readers: 1}
	require.NoError(t, u.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("udp", u.BoundAddr())
	require.NoError(t, err)
	defer c.Close()
	_, _ = c.Write([]byte("q.a 1 1700000000\nq.b 2 1700000000\n"))
	_, _ = c.Write([]byte("\xff\xfe garbage"))
	require.Eventually(t, func() bool {
		return rejected(stats, protocol.PlaintextUDP, ingest.QueueFull) == 2 &&
			rejected(stats, protocol.PlaintextUDP, ingest.BadName)+rejected(stats, protocol.PlaintextUDP, ingest.Malformed) >= 1
	}, 2*time.Second, 5*time.Millisecond)
}

func TestBindFailureIsReported(t *testing.T) {
	stats := telemetry.New(nil)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	l := &TCP{Config: baseConfig(busy.Addr().String(), protocol.PickleTCP, &sink{}, stats), Framing: LengthPrefixed, MaxConns: 1}
	err = l.Listen()
	require.ErrorContains(t, err, "cannot listen on "+busy.Addr().String()+" for pickle-tcp")
	require.False(t, l.State().Up)
	require.NotEmpty(t, l.State().Error)
}

// collectd's first sample of a counter is NaN: counted as not_finite and logged at debug only,
// while other rejections still log a warning.
func TestNaNLoggedAtDebug(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		warn        bool
	}{
		{"nan only", "cpu.idle nan 1700000000\n", false},
		{"junk", "not a line\n", true},
		{"nan and junk", "cpu.idle nan 1700000000\nnot a line\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			stats := telemetry.New(nil)
			cfg := baseConfig("127.0.0.1:0", protocol.PlaintextTCP, &sink{}, stats)
			cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			var rl rejectLog
			cfg.decodeBatch([]byte(tc.input), nil, &rl, addr("127.0.0.1:1"))
			require.Equal(t, tc.warn, strings.Contains(logs.String(), "level=WARN"), logs.String())
			if strings.Contains(tc.input, "nan") {
				require.Equal(t, 1.0, rejected(stats, protocol.PlaintextTCP, ingest.NotFinite))
			}
		})
	}
}
