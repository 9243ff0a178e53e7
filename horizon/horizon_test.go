package horizon_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

type env struct {
	srv   *redistest.Server
	svc   *horizon.Service
	store *redisstore.Store
	reg   *prometheus.Registry
	halt  func() // stop the service, keep the store open
	stop  func() // halt and close the store
}

func start(t testing.TB, mod func(*horizon.Config)) *env {
	t.Helper()
	srv := redistest.Start(t)
	cfg := horizon.DefaultConfig().Listen(horizon.Protocols...)
	cfg.FlushInterval = 50 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store,
		Registry: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	e := &env{srv: srv, svc: svc, store: store, reg: reg}
	e.halt = func() {
		cancel()
		require.NoError(t, <-done)
	}
	e.stop = func() {
		e.halt()
		_ = store.Close()
	}
	return e
}

func send(t *testing.T, network, addr string, payloads ...[]byte) {
	t.Helper()
	c, err := net.Dial(network, addr)
	require.NoError(t, err)
	defer c.Close()
	for _, p := range payloads {
		_, err := c.Write(p)
		require.NoError(t, err)
	}
}

func frame(p []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	return append(b, p...)
}

// A carbon-relay frame rewritten with the current time: Python 2 protocol-2 pickle of
// [("pickle.tcp.m", (ts, 1.5))] — built by hand from the opcodes Python writes.
func pickleP2(name string, ts int64, v float64) []byte {
	b := []byte{0x80, 0x02, ']', 'q', 0x00, '(', 'U', byte(len(name))}
	b = append(b, name...)
	b = append(b, 'J')
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = append(b, 'G')
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	b = append(b, 0x86, 0x86, 'e', '.') // TUPLE2 (ts, v); TUPLE2 (name, …); APPENDS; STOP
	return b
}

func TestEveryProtocolStoresExactBytes(t *testing.T) {
	e := start(t, nil)
	now := time.Now().Unix()
	mp := func(v any) []byte { b, err := msgpack.Marshal(v); require.NoError(t, err); return b }

	send(t, "tcp", e.svc.Addr("pickle-tcp"), frame(pickleP2("pickle.tcp.m", now, 1.5)))
	send(t, "udp", e.svc.Addr("pickle-udp"), pickleP2("pickle.udp.m", now, 1.5))
	send(t, "udp", e.svc.Addr("msgpack-udp"), mp([]any{"msgpack.udp.m", []any{now, 1.5}}),
		mp([]any{[]any{"msgpack.udp.batch", []any{now, 7}}, []any{"msgpack.udp.batch", []any{now + 1, 8}}}))
	send(t, "tcp", e.svc.Addr("plaintext-tcp"), fmt.Appendf(nil, "plaintext.tcp.m 1.5 %d\n", now))
	send(t, "udp", e.svc.Addr("plaintext-udp"), fmt.Appendf(nil, "plaintext.udp.m 1.5 %d\n", now))

	pair := hex.EncodeToString(redisstore.AppendPair(nil, metric.Int(now), metric.Float(1.5)))
	want := map[string]string{
		"metrics.pickle.tcp.m": pair, "metrics.pickle.udp.m": pair, "metrics.msgpack.udp.m": pair,
		"metrics.plaintext.tcp.m": pair, "metrics.plaintext.udp.m": pair,
		"metrics.msgpack.udp.batch": hex.EncodeToString(redisstore.AppendPair(redisstore.AppendPair(nil,
			metric.Int(now), metric.Int(7)), metric.Int(now+1), metric.Int(8))),
	}
	ctx := context.Background()
	require.Eventually(t, func() bool {
		members, _ := e.store.Members(ctx, "metrics.")
		return len(members) == len(want)
	}, 3*time.Second, 10*time.Millisecond)
	for key, hx := range want {
		raw, err := e.store.Client().Get(ctx, key).Bytes()
		require.NoError(t, err, key)
		require.Equal(t, hx, hex.EncodeToString(raw), key)
	}
	e.stop()
	require.Equal(t, 7.0, testutil.ToFloat64(mustCounter(t, e.reg, "kale_horizon_stored_total")))
}

// Python 3 carbon sends protocol-4 pickles; the fixture comes from real Python.
func TestPythonPickleFixture(t *testing.T) {
	b, err := os.ReadFile("pickle/testdata/py3-p4-basic.pickle")
	if err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	e := start(t, func(c *horizon.Config) { c.MaxResolution = 100 * 365 * 24 * time.Hour })
	send(t, "tcp", e.svc.Addr("pickle-tcp"), frame(b))
	require.Eventually(t, func() bool {
		p, _, err := e.store.Series(context.Background(), "a.b")
		return err == nil && len(p) == 1 && p[0] == redisstore.Pair{Timestamp: 1700000000, Value: 1.5}
	}, 3*time.Second, 10*time.Millisecond)
	e.stop()
}

func TestMalformedInputNeverStopsListeners(t *testing.T) {
	e := start(t, nil)
	defer e.stop()
	now := time.Now().Unix()
	garbage := [][]byte{{}, {0x00}, {0xff, 0xff}, []byte("\x80\x02cos\nsystem\nq\x00."), {0xdd, 0xff, 0xff, 0xff, 0xff},
		{0xdb, 0x7f, 0xff, 0xff, 0xff}, []byte("nan.value nan 1\n"), []byte("\xff\xfe 1 1\n"), []byte("a b c d e\n")}
	for _, g := range garbage {
		for _, l := range []string{"pickle-udp", "msgpack-udp", "plaintext-udp"} {
			send(t, "udp", e.svc.Addr(l), g)
		}
		send(t, "tcp", e.svc.Addr("plaintext-tcp"), g)
		send(t, "tcp", e.svc.Addr("pickle-tcp"), frame(g))
	}
	send(t, "tcp", e.svc.Addr("pickle-tcp"), []byte{0x7f, 0xff, 0xff, 0xff}) // a 2 GB frame header
	// Every listener still works afterwards.
	send(t, "tcp", e.svc.Addr("pickle-tcp"), frame(pickleP2("after.pickle.tcp", now, 1)))
	send(t, "udp", e.svc.Addr("pickle-udp"), pickleP2("after.pickle.udp", now, 1))
	send(t, "udp", e.svc.Addr("msgpack-udp"), must(msgpack.Marshal([]any{"after.msgpack", []any{now, 1}})))
	send(t, "tcp", e.svc.Addr("plaintext-tcp"), fmt.Appendf(nil, "after.plaintext.tcp 1 %d\n", now))
	send(t, "udp", e.svc.Addr("plaintext-udp"), fmt.Appendf(nil, "after.plaintext.udp 1 %d\n", now))
	require.Eventually(t, func() bool {
		members, _ := e.store.Members(context.Background(), "metrics.")
		return len(members) == 5
	}, 3*time.Second, 10*time.Millisecond)
	for _, st := range e.svc.Listeners() {
		require.True(t, st.Up, st.Protocol)
	}
}

func TestBindFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	cfg := horizon.DefaultConfig()
	cfg.Listeners = []horizon.Listener{{Protocol: "pickle-tcp", Addr: busy.Addr().String()}, {Protocol: "plaintext-tcp", Addr: "127.0.0.1:0"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Left at its default: reported as down, the rest runs.
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store, Log: log})
	require.NoError(t, err)
	states := svc.Listeners()
	require.Len(t, states, 2)
	require.True(t, states[0].Up)
	require.Equal(t, "pickle-tcp", states[1].Protocol)
	require.False(t, states[1].Up)
	require.Contains(t, states[1].Error, "address already in use")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, svc.Run(ctx))

	// Set explicitly: fatal, with a message naming the flag.
	cfg.Listeners[0].Explicit = true
	_, err = horizon.New(horizon.Options{Config: cfg, Store: store, Log: log})
	require.ErrorContains(t, err, "--pickle-tcp")
}

// Idle connections held over --max-conns cannot lock a real sender out: the idlest is evicted.
func TestIdleConnectionsDoNotLockOutSenders(t *testing.T) {
	e := start(t, func(c *horizon.Config) { c.MaxConns = 4 })
	defer e.stop()
	now := time.Now().Unix()
	for _, tc := range []struct {
		listener string
		payload  []byte
	}{
		{"pickle-tcp", frame(pickleP2("lockout.pickle", now, 1))},
		{"plaintext-tcp", fmt.Appendf(nil, "lockout.plaintext 1 %d\n", now)},
	} {
		for range 10 { // held open until the test ends
			c, err := net.Dial("tcp", e.svc.Addr(tc.listener))
			require.NoError(t, err)
			defer c.Close()
		}
		send(t, "tcp", e.svc.Addr(tc.listener), tc.payload)
	}
	require.Eventually(t, func() bool {
		members, _ := e.store.Members(context.Background(), "metrics.")
		return len(members) == 2
	}, 3*time.Second, 10*time.Millisecond)
	for _, l := range []string{"pickle-tcp", "plaintext-tcp"} {
		require.Equal(t, 7.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", l, "reason", "evicted"), l)
	}
}

// metricWith returns the value of the counter or gauge name whose labels include the pairs.
func metricWith(t testing.TB, reg *prometheus.Registry, name string, pairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(pairs); i += 2 {
				if labels[pairs[i]] != pairs[i+1] {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, pairs)
	return 0
}

// What senders wrote before the stop is stored: listeners drain their connections into the
// writer before it is stopped.
func TestStopKeepsWhatWasReceived(t *testing.T) {
	e := start(t, nil)
	defer func() { _ = e.store.Close() }()
	const n = 500
	now := time.Now().Unix()
	var lines, frames []byte
	for i := range n {
		lines = fmt.Appendf(lines, "stop.plaintext %d %d\n", i, now-int64(n)+int64(i))
		frames = append(frames, frame(pickleP2("stop.pickle", now-int64(n)+int64(i), float64(i)))...)
	}
	send(t, "tcp", e.svc.Addr("plaintext-tcp"), lines)
	send(t, "tcp", e.svc.Addr("pickle-tcp"), frames)
	e.halt()
	for _, name := range []string{"stop.plaintext", "stop.pickle"} {
		p, _, err := e.store.Series(context.Background(), name)
		require.NoError(t, err)
		require.Len(t, p, n, name)
	}
	require.Zero(t, metricWith(t, e.reg, "kale_horizon_inflight_bytes"))
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: name}, func() float64 {
				return mf.GetMetric()[0].GetCounter().GetValue()
			})
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
