package msgpackudp

import (
	"encoding/binary"
	"math"

	"github.com/kale-project/kale/utils/metric"
)

// Append appends one datagram of pts to dst, as Skyline's senders write it: a single point as
// a bare item [name, [timestamp, value]] (what seed_data.py sends), several as an array of
// items. Names are msgpack str; ints take their most compact form and floats are float64, as
// Python's msgpack writes them, so Decode returns exactly pts. An empty pts appends an empty
// array. The caller keeps a datagram under the listener's 64 KiB (and the path's MTU).
func Append(dst []byte, pts []metric.Point) []byte {
	dst = AppendHeader(dst, len(pts))
	for _, p := range pts {
		dst = AppendItem(dst, AppendName(nil, p.Name), p.Timestamp, AppendNumber(nil, p.Value))
	}
	return dst
}

// The building blocks of Append, for a sender that encodes each name and value once and
// reuses the bytes (the load generator's hot path): a datagram is AppendHeader(n) followed by
// n AppendItem calls.

// AppendHeader starts a datagram of n items: nothing for a single item (it is sent bare), an
// array header otherwise.
func AppendHeader(dst []byte, n int) []byte {
	if n == 1 {
		return dst
	}
	return appendArray(dst, n)
}

// AppendItem appends one item [name, [ts, value]]; name and value are what AppendName and
// AppendNumber wrote.
func AppendItem(dst, name []byte, ts metric.Number, value []byte) []byte {
	dst = append(dst, 0x92)
	dst = append(dst, name...)
	dst = append(dst, 0x92)
	dst = AppendNumber(dst, ts)
	return append(dst, value...)
}

// AppendName appends a metric name as a msgpack str (fixstr, str8, str16 or str32).
func AppendName(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// AppendNumber appends an int in msgpack's most compact form or a float as float64.
func AppendNumber(dst []byte, n metric.Number) []byte {
	if !n.IsInt {
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(n.F))
	}
	switch v := n.I; {
	case v >= 0 && v < 128:
		return append(dst, byte(v))
	case v >= 0 && v < 1<<8:
		return append(dst, 0xcc, byte(v))
	case v >= 0 && v < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v >= 0 && v < 1<<32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	case v >= 0:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

// appendArray writes a msgpack array header of n elements.
func appendArray(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}
