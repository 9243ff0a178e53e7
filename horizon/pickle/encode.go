package pickle

import (
	"encoding/binary"
	"math"

	"github.com/kale-project/kale/utils/metric"
)

// AppendsBatch is how many items Python's pickler puts between one MARK and its APPENDS.
const AppendsBatch = 1000

// Append appends one pickle of [(name, (timestamp, value)), …] to dst, as Python 3 carbon
// pickles what it sends (protocol 2, names as unicode, items in MARK … APPENDS batches of
// AppendsBatch; no memo opcodes), so Decode returns exactly pts, int/float types included.
// This is the body of a TCP frame or one whole UDP datagram; see AppendFrame for TCP.
func Append(dst []byte, pts []metric.Point) []byte {
	if len(pts) == 0 {
		return append(dst, opProto, 2, opEmptyList, opStop)
	}
	start := len(dst)
	dst = AppendHeader(dst, false)
	var value [9]byte
	for i, p := range pts {
		dst = AppendItem(dst, i, AppendName(nil, p.Name), p.Timestamp, AppendNumber(value[:0], p.Value))
	}
	return AppendTrailer(dst, start, false)
}

// AppendFrame appends one frame as carbon-relay sends it to TCP port 2024: a uint32
// big-endian length, then Append's pickle.
func AppendFrame(dst []byte, pts []metric.Point) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = Append(dst, pts)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// The building blocks of Append and AppendFrame, for a sender that encodes each name and value
// once and reuses the bytes (the load generator's hot path): a payload of n ≥ 1 items is
// AppendHeader, AppendItem for i = 0 … n-1, then AppendTrailer.

// AppendHeader starts a payload (a TCP frame when frame is set: its length is filled in by
// AppendTrailer).
func AppendHeader(dst []byte, frame bool) []byte {
	if frame {
		dst = append(dst, 0, 0, 0, 0)
	}
	return append(dst, opProto, 2, opEmptyList, opMark)
}

// AppendItem appends item i (counting from 0 within the payload) (name, (ts, value)); name is
// what AppendName or AppendBytesName wrote, value what AppendNumber wrote.
func AppendItem(dst []byte, i int, name []byte, ts metric.Number, value []byte) []byte {
	if i > 0 && i%AppendsBatch == 0 {
		dst = append(dst, opAppends, opMark)
	}
	dst = append(dst, name...)
	dst = AppendNumber(dst, ts)
	dst = append(dst, value...)
	return append(dst, opTuple2, opTuple2)
}

// AppendTrailer ends the payload that AppendHeader started at offset start of dst.
func AppendTrailer(dst []byte, start int, frame bool) []byte {
	dst = append(dst, opAppends, opStop)
	if frame {
		binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	}
	return dst
}

// AppendName appends a name as Python 3 pickles a str: BINUNICODE.
func AppendName(dst []byte, name string) []byte {
	dst = binary.LittleEndian.AppendUint32(append(dst, opBinUnicode), uint32(len(name)))
	return append(dst, name...)
}

// AppendBytesName appends a name as Python 2 carbon pickles its str: SHORT_BINSTRING, or
// BINSTRING beyond 255 bytes.
func AppendBytesName(dst []byte, name string) []byte {
	if len(name) < 256 {
		dst = append(dst, opShortBinString, byte(len(name)))
	} else {
		dst = binary.LittleEndian.AppendUint32(append(dst, opBinString), uint32(len(name)))
	}
	return append(dst, name...)
}

// AppendNumber appends a float as BINFLOAT, an int as Python's protocol-2 pickler does:
// BININT1, BININT2, BININT or LONG1 (little-endian two's complement, shortest form).
func AppendNumber(dst []byte, n metric.Number) []byte {
	if !n.IsInt {
		return binary.BigEndian.AppendUint64(append(dst, opBinFloat), math.Float64bits(n.F))
	}
	switch v := n.I; {
	case 0 <= v && v < 1<<8:
		return append(dst, opBinInt1, byte(v))
	case 0 <= v && v < 1<<16:
		return append(dst, opBinInt2, byte(v), byte(v>>8))
	case math.MinInt32 <= v && v <= math.MaxInt32:
		return binary.LittleEndian.AppendUint32(append(dst, opBinInt), uint32(v))
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], uint64(n.I))
	k := 8
	// Drop redundant sign bytes: 0x00 before a byte with bit 7 clear, 0xff before one with it set.
	for k > 1 && (le[k-1] == 0 && le[k-2]&0x80 == 0 || le[k-1] == 0xff && le[k-2]&0x80 != 0) {
		k--
	}
	return append(append(dst, opLong1, byte(k)), le[:k]...)
}
