package loadgen

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/kale-project/kale/horizon/protocol"
	"math/big"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	ogorek "github.com/kisielk/og-rek"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/msgpackudp"
	"github.com/kale-project/kale/horizon/pickle"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// pt is one datapoint to encode: metric index, timestamp, value-table index.
type pt struct {
	m  int
	ts int64
	v  int
}

func encode(t testing.TB, proto string, names []string, pts []pt) []byte {
	t.Helper()
	c, err := newCodec(proto, names)
	require.NoError(t, err)
	b := c.begin([]byte("junk before"), len(pts))
	for i, p := range pts {
		b = c.add(b, i, p.m, p.ts, p.v)
	}
	return c.end(b, len("junk before"))[len("junk before"):]
}

// The points of testdata/python-protocol2.py.
var pythonPoints = []pt{{0, 1700000000, 0}, {1, 1700000001, 1023}, {2, 5, 50}, {3, 300, 1}, {4, 5000000000, 400}}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func ogrekDecode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := ogorek.NewDecoderWithConfig(bytes.NewReader(b), &ogorek.DecoderConfig{StrictUnicode: true}).Decode()
	require.NoError(t, err)
	return v
}

// The fast pickle writer produces exactly Python's protocol-2 pickle minus the memo PUTs
// (pickletools.optimize), and og-rek reads it as the same value as Python's own pickle.
func TestPickleMatchesPython(t *testing.T) {
	names := Names("loadgen.", 5)
	got := encode(t, protocol.PickleUDP, names, pythonPoints)
	require.Equal(t, hex.EncodeToString(readFile(t, "testdata/python-protocol2-optimized.pickle")), hex.EncodeToString(got))

	python := ogrekDecode(t, readFile(t, "testdata/python-protocol2.pickle"))
	require.Equal(t, python, ogrekDecode(t, got))
	require.Equal(t, []any{
		ogorek.Tuple{"loadgen.000000", ogorek.Tuple{int64(1700000000), 0.125}},
		ogorek.Tuple{"loadgen.000001", ogorek.Tuple{int64(1700000001), 255.875}},
		ogorek.Tuple{"loadgen.000002", ogorek.Tuple{int64(5), 12.625}},
		ogorek.Tuple{"loadgen.000003", ogorek.Tuple{int64(300), 0.375}},
		ogorek.Tuple{"loadgen.000004", ogorek.Tuple{big.NewInt(5000000000), 100.125}},
	}, python)

	// pickle-tcp is the same pickle behind a big-endian uint32 length.
	framed := encode(t, protocol.PickleTCP, names, pythonPoints)
	require.Equal(t, uint32(len(got)), binary.BigEndian.Uint32(framed))
	require.Equal(t, got, framed[4:])
}

// A frame larger than Python's 1000-item APPENDS batches decodes with og-rek and with
// horizon's decoder to the datapoints that were encoded.
func TestPickleRoundTrip(t *testing.T) {
	names := Names("rt.", 7)
	var pts []pt
	for i := range 2500 {
		pts = append(pts, pt{i % 7, 1_700_000_000 + int64(i/7), i % valueCount})
	}
	b := encode(t, protocol.PickleUDP, names, pts)
	list, ok := ogrekDecode(t, b).([]any)
	require.True(t, ok)
	require.Len(t, list, len(pts))
	for i, p := range pts {
		require.Equal(t, ogorek.Tuple{names[p.m], ogorek.Tuple{p.ts, Value(p.v)}}, list[i], "item %d", i)
	}
	requireDecodes(t, pickle.Decode, b, names, pts)
}

// Python's own unpickler reads the frame (skipped without python3; the byte-exact fixture
// test above does not need it).
func TestPickleLoadsInPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; TestPickleMatchesPython covers the format")
	}
	names := Names("loadgen.", 5)
	cmd := exec.Command(py, "-c", "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()))")
	cmd.Stdin = bytes.NewReader(encode(t, protocol.PickleUDP, names, pythonPoints))
	out, err := cmd.Output()
	require.NoError(t, err)
	var want []string
	for _, p := range pythonPoints {
		want = append(want, fmt.Sprintf("('%s', (%d, %s))", names[p.m], p.ts, strconv.FormatFloat(Value(p.v), 'g', -1, 64)))
	}
	require.Equal(t, "["+strings.Join(want, ", ")+"]\n", string(out))
}

func TestMsgpack(t *testing.T) {
	names := Names("mp.", 3)
	// One datapoint is sent bare, as Skyline's seed_data.py did.
	single := encode(t, protocol.MsgpackUDP, names, []pt{{2, 1_700_000_000, 3}})
	var v []any
	require.NoError(t, msgpack.Unmarshal(single, &v))
	require.Equal(t, []any{"mp.000002", []any{uint32(1_700_000_000), Value(3)}}, v)
	requireDecodes(t, msgpackudp.Decode, single, names, []pt{{2, 1_700_000_000, 3}})

	for _, n := range []int{2, 15, 16, 20, 70_000} {
		var pts []pt
		for i := range n {
			pts = append(pts, pt{i % 3, int64(i), i % valueCount})
		}
		b := encode(t, protocol.MsgpackUDP, names, pts)
		var batch [][]any
		require.NoError(t, msgpack.Unmarshal(b, &batch), "batch of %d", n)
		require.Len(t, batch, n)
		requireDecodes(t, msgpackudp.Decode, b, names, pts)
	}
}

func TestPlaintext(t *testing.T) {
	names := Names("pt.", 2)
	pts := []pt{{0, 1_700_000_000, 0}, {1, 1_700_000_001, 1023}, {0, 1_700_000_002, 4}}
	b := encode(t, protocol.PlaintextTCP, names, pts)
	require.Equal(t, "pt.000000 0.125 1700000000\npt.000001 255.875 1700000001\npt.000000 1.125 1700000002\n", string(b))
	require.Equal(t, b, encode(t, protocol.PlaintextUDP, names, pts))
	requireDecodes(t, plaintext.Decode, b, names, pts)
}

// Every value of the table survives every format as a float64 that is not an integer, so
// horizon stores it in 9 bytes and a stored pair takes pairBytes.
func TestValuesStoreAsFloats(t *testing.T) {
	for i := range valueCount {
		v := Value(i)
		require.NotEqual(t, v, float64(int64(v)), "value %d is an integer", i)
		p, err := plaintext.DecodeLine([]byte("a "+strconv.FormatFloat(v, 'g', -1, 64)+" 1700000000"), ingest.DefaultLimits())
		require.NoError(t, err)
		require.False(t, p.Value.IsInt)
		require.Equal(t, v, p.Value.F)
		require.Len(t, redisstore.AppendPair(nil, p.Timestamp, p.Value), pairBytes)
	}
}

func TestNewCodecRejectsUnknownProtocol(t *testing.T) {
	_, err := newCodec("carrier-pigeon", []string{"a"})
	require.ErrorContains(t, err, `cannot encode protocol "carrier-pigeon"`)
}

// requireDecodes runs one of horizon's decoders over b and compares what it emits.
func requireDecodes(t *testing.T, decode func([]byte, ingest.Limits, func(metric.Point)) error, b []byte, names []string, pts []pt) {
	t.Helper()
	var got []metric.Point
	require.NoError(t, decode(b, ingest.DefaultLimits(), func(p metric.Point) { got = append(got, p) }))
	require.Len(t, got, len(pts))
	for i, p := range pts {
		require.Equal(t, metric.Point{Name: names[p.m], Timestamp: metric.Int(p.ts), Value: metric.Float(Value(p.v))}, got[i], "point %d", i)
	}
}
