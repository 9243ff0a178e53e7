package msgpackudp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

func TestAppendRoundTrip(t *testing.T) { ingesttest.RoundTrips(t, Append, Decode) }

func FuzzAppend(f *testing.F) { ingesttest.FuzzRoundTrip(f, Append, Decode) }

// The encoder's primitives write what vmihailenco/msgpack (compact ints) and Python's
// msgpack write.
func TestAppendPrimitives(t *testing.T) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	for _, v := range []int64{0, 5, 127, 128, 255, 256, 65535, 65536, 1_700_000_000, 1 << 32, 1<<63 - 1,
		-1, -32, -33, -128, -129, -32768, -32769, -1 << 31, -1<<31 - 1, -1 << 63} {
		buf.Reset()
		require.NoError(t, enc.EncodeInt(v))
		require.Equal(t, buf.Bytes(), AppendNumber(nil, metric.Int(v)), "int %d", v)
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("a", n)
		buf.Reset()
		require.NoError(t, enc.EncodeString(s))
		require.Equal(t, buf.Bytes(), AppendName(nil, s), "str of %d", n)
	}
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		buf.Reset()
		require.NoError(t, enc.EncodeArrayLen(n))
		require.Equal(t, buf.Bytes(), appendArray(nil, n), "array of %d", n)
	}
}
