package seed

import (
	"bytes"
	"context"
	"fmt"
	"github.com/kale-project/kale/horizon/protocol"
	"testing"
	"time"

	ogorek "github.com/kisielk/og-rek"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/msgpackudp"
	"github.com/kale-project/kale/horizon/pickle"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// Every demo datapoint survives each encoding and horizon's decoder with its exact value.
func TestEncodingsRoundTrip(t *testing.T) {
	items := interleave(Generate(Options{Now: testNow, History: time.Hour}))
	require.Equal(t, 36*(45+90), len(items))
	decoders := map[string]func([]byte, ingest.Limits, func(metric.Point)) error{
		"pickle": pickle.Decode, "msgpack": msgpackudp.Decode, "plaintext": plaintext.Decode,
	}
	for _, tc := range []struct {
		name    string
		decoder string
		encode  func([]item) []byte
	}{
		{"pickle unicode", "pickle", func(it []item) []byte { return encodePickle(it, true) }},
		{"pickle bytestring", "pickle", func(it []item) []byte { return encodePickle(it, false) }},
		{"msgpack", "msgpack", encodeMsgpack},
		{"plaintext", "plaintext", encodePlaintext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range append(chunks(items, 500), items[:1]) {
				var got []metric.Point
				err := decoders[tc.decoder](tc.encode(chunk), ingest.DefaultLimits(), func(p metric.Point) { got = append(got, p) })
				require.NoError(t, err)
				require.Len(t, got, len(chunk))
				for i, it := range chunk {
					require.Equal(t, it.name, got[i].Name)
					require.Equal(t, float64(it.p.Timestamp), got[i].Timestamp.Float64())
					require.Equal(t, it.p.Value.Float64(), got[i].Value.Float64(), "%s at %d", it.name, it.p.Timestamp)
				}
			}
		})
	}
}

// The pickles are what Python 3 (unicode) and Python 2 (byte string) carbon senders write.
func TestEncodePickleStyles(t *testing.T) {
	it := []item{{"demo.a", Point{1700000000, metric.Float(1.5)}}, {"demo.b", Point{1700000000, metric.Int(7)}}}
	py3 := encodePickle(it, true)
	require.Contains(t, string(py3), "X\x06\x00\x00\x00demo.a") // BINUNICODE
	py2 := encodePickle(it, false)
	require.Contains(t, string(py2), "U\x06demo.a") // SHORT_BINSTRING
	v, err := ogorek.NewDecoder(bytes.NewReader(py3)).Decode()
	require.NoError(t, err)
	require.Equal(t, []any{
		ogorek.Tuple{"demo.a", ogorek.Tuple{int64(1700000000), 1.5}},
		ogorek.Tuple{"demo.b", ogorek.Tuple{int64(1700000000), int64(7)}},
	}, v)
}

func TestEncodeMsgpackSingleAndBatch(t *testing.T) {
	one := []item{{"demo.a", Point{1700000000, metric.Float(1.5)}}}
	require.Equal(t, "\x92\xa6demo.a\x92\xce\x65\x53\xf1\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", string(encodeMsgpack(one)))
	two := append(one, item{"demo.b", Point{1700000000, metric.Int(7)}})
	require.Equal(t, byte(0x92), encodeMsgpack(two)[0])
	require.Equal(t, byte(0x92), encodeMsgpack(two)[1], "an array of items")
}

func TestEncodePlaintext(t *testing.T) {
	require.Equal(t, "demo.a 1.5 1700000000\ndemo.b 7 1700000010\ndemo.c 0.001 1700000020\n", string(encodePlaintext([]item{
		{"demo.a", Point{1700000000, metric.Float(1.5)}},
		{"demo.b", Point{1700000010, metric.Int(7)}},
		{"demo.c", Point{1700000020, metric.Float(0.001)}},
	})))
}

func TestInterleaveAndChunks(t *testing.T) {
	s := []Series{
		{Name: "a", Points: []Point{{Timestamp: 1}, {Timestamp: 2}}},
		{Name: "b", Points: []Point{{Timestamp: 1}, {Timestamp: 2}, {Timestamp: 3}}},
	}
	got := interleave(s)
	require.Equal(t, []item{{"a", Point{Timestamp: 1}}, {"b", Point{Timestamp: 1}}, {"a", Point{Timestamp: 2}}, {"b", Point{Timestamp: 2}}, {"b", Point{Timestamp: 3}}}, got)
	c := chunks(got, 2)
	require.Len(t, c, 3)
	require.Len(t, c[2], 1)
	require.Empty(t, chunks(nil, 2))
}

func TestOptionsValidation(t *testing.T) {
	store, err := redisstore.Open("embedded", redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	five := []Target{{protocol.PickleTCP, "h:1"}, {protocol.PickleUDP, "h:1"}, {protocol.MsgpackUDP, "h:2"}, {protocol.PlaintextTCP, "h:3"}, {protocol.PlaintextUDP, "h:3"}}
	for _, tc := range []struct {
		o   Options
		msg string
	}{
		{Options{Targets: five}, "no Redis store"},
		{Options{Store: store}, "no listener is enabled"},
		{Options{Store: store, Targets: []Target{{"carrier-pigeon", "h:1"}}}, `unknown protocol "carrier-pigeon"`},
		{Options{Store: store, Targets: []Target{{protocol.PickleTCP, "h:1"}, {protocol.PickleTCP, "h:2"}}}, `"pickle-tcp" listed twice`},
		{Options{Store: store, Targets: []Target{{protocol.PickleTCP, ""}}}, "no address for pickle-tcp"},
		{Options{Store: store, Targets: five, Metrics: 3}, "--metrics 3 must be between the number of listeners (5)"},
		{Options{Store: store, Targets: five, Recent: 20 * time.Minute}, "recent window 20m0s must be between"},
		{Options{Store: store, Targets: five, Step: 1500 * time.Millisecond}, "whole seconds"},
		{Options{Store: store, Targets: five, History: 10 * time.Minute}, "history 10m0s is shorter"},
	} {
		_, err := Run(context.Background(), tc.o)
		require.ErrorContains(t, err, "cannot seed: ")
		require.ErrorContains(t, err, tc.msg)
	}
}

func TestReportString(t *testing.T) {
	ok := Report{Metrics: 36, History: 51300, Sent: map[string]int{protocol.PickleTCP: 720, protocol.MsgpackUDP: 630}, Stored: 1350,
		Recent: 15 * time.Minute, Duration: 1500 * time.Millisecond}
	require.True(t, ok.OK())
	require.Equal(t, "seed OK: 36 metrics, 1350 datapoints via pickle-tcp 720, msgpack-udp 630, verified in Redis in 1.5s; "+
		"51300 history datapoints older than 15m0s were written directly to Redis (horizon drops datapoints older than MAX_RESOLUTION)", ok.String())

	bad := ok
	bad.Stored = 1260
	bad.Missing = []string{"demo.web.requests: 90 of 90 recent datapoints (msgpack-udp) missing"}
	require.False(t, bad.OK())
	require.Contains(t, bad.String(), "seed FAILED: 36 metrics, 1260 of 1350 datapoints sent via pickle-tcp 720, msgpack-udp 630 found in Redis")
	require.Contains(t, bad.String(), "\n  missing: demo.web.requests: 90 of 90 recent datapoints (msgpack-udp) missing")
	err := bad.err()
	require.ErrorIs(t, err, ErrNotStored)
	require.EqualError(t, err, "seed datapoints did not reach Redis (1260 of 1350 datapoints sent through the listeners stored after 1.5s): "+
		"demo.web.requests: 90 of 90 recent datapoints (msgpack-udp) missing")

	var many Report
	for i := range 7 {
		many.Missing = append(many.Missing, fmt.Sprintf("m%d: x", i))
	}
	require.ErrorContains(t, many.err(), "m4: x; and 2 more metrics")
	require.EqualError(t, Report{Errors: []string{"cannot connect to pickle-tcp at h:1: refused"}}.err(), "cannot seed: cannot connect to pickle-tcp at h:1: refused")
}
