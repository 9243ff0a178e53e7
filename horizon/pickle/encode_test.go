package pickle

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

func TestAppendRoundTrip(t *testing.T) { ingesttest.RoundTrips(t, Append, Decode) }

func FuzzAppend(f *testing.F) { ingesttest.FuzzRoundTrip(f, Append, Decode) }

// More items than one MARK … APPENDS batch, names as Python 2 byte strings, and the TCP
// frame's length header.
func TestAppendBatchesFramesAndByteNames(t *testing.T) {
	pts := ingesttest.RoundTripPoints()
	for len(pts) < 2*AppendsBatch+5 {
		pts = append(pts, pts...)
	}
	ingesttest.RoundTrip(t, Append, Decode, pts)

	frame := AppendFrame([]byte("x"), pts[:3])
	body := Append(nil, pts[:3])
	require.Equal(t, uint32(len(body)), binary.BigEndian.Uint32(frame[1:5]))
	require.Equal(t, body, frame[5:])

	byteNames := func(dst []byte, pts []metric.Point) []byte {
		start := len(dst)
		dst = AppendHeader(dst, true)
		for i, p := range pts {
			dst = AppendItem(dst, i, AppendBytesName(nil, p.Name), p.Timestamp, AppendNumber(nil, p.Value))
		}
		dst = AppendTrailer(dst, start, true)
		require.Equal(t, uint32(len(dst)-start-4), binary.BigEndian.Uint32(dst[start:]))
		return append(dst[:start], dst[start+4:]...)
	}
	ingesttest.RoundTrip(t, byteNames, Decode, pts[:AppendsBatch+1])
}

func TestAppendNumberMatchesPython(t *testing.T) {
	// pickletools.optimize(pickle.dumps(v, 2))[2:-1].hex() in Python 3.11.
	for _, tc := range []struct {
		v   int64
		hex string
	}{
		{0, "4b00"}, {5, "4b05"}, {128, "4b80"}, {255, "4bff"}, {256, "4d0001"}, {65535, "4dffff"},
		{65536, "4a00000100"}, {-1, "4affffffff"}, {-5, "4afbffffff"}, {-70000, "4a90eefeff"},
		{2147483647, "4affffff7f"}, {-2147483648, "4a00000080"}, {2147483648, "8a050000008000"},
		{5000000000, "8a0500f2052a01"}, {-2147483649, "8a05ffffff7fff"}, {549755813888, "8a06000000008000"},
		{9223372036854775807, "8a08ffffffffffffff7f"}, {-9223372036854775808, "8a080000000000000080"},
	} {
		require.Equal(t, tc.hex, hex.EncodeToString(AppendNumber(nil, metric.Int(tc.v))), "int %d", tc.v)
	}
}
