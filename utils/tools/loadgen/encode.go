package loadgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// The wire formats a codec writes, one per horizon listener.
const (
	PickleTCP    = "pickle-tcp"
	PickleUDP    = "pickle-udp"
	MsgpackUDP   = "msgpack-udp"
	PlaintextTCP = "plaintext-tcp"
	PlaintextUDP = "plaintext-udp"
)

// valueCount is the size of the pre-encoded value table; datapoint k of a metric takes value
// (k+metric) mod valueCount.
const valueCount = 1024

// Value returns entry i of the value table: i/4 + 1/8, a sawtooth from 0.125 to 255.875. Every
// entry is exact in binary and decimal and never an integer, so each wire format carries it
// unchanged and horizon always stores it as a msgpack float64 (see pairBytes).
func Value(i int) float64 { return float64(i%valueCount)/4 + 0.125 }

// pairBytes is the size of one stored [ts, value] pair for what the generator sends: a
// fixarray header, a uint32 timestamp (5 bytes) and a float64 value (9 bytes).
const pairBytes = 15

// Pickle opcodes of protocol 2 (Python's Lib/pickle.py).
const (
	opProto      = 0x80
	opEmptyList  = ']'
	opMark       = '('
	opAppends    = 'e'
	opStop       = '.'
	opBinUnicode = 'X'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinInt     = 'J'
	opLong1      = 0x8a
	opBinFloat   = 'G'
	opTuple2     = 0x86
)

// pickleBatch is how many items Python's pickler puts between one MARK and its APPENDS.
const pickleBatch = 1000

// codec builds payloads of one wire format from pre-encoded templates: each metric's name is
// encoded once, each value of the table once, so a datapoint costs two copies and a
// timestamp. It is the generator's hot path; a payload is begin, add × n, end.
type codec struct {
	proto  string
	names  [][]byte // per metric: the name in wire form (with the separator for plaintext)
	values [][]byte // valueCount values in wire form
}

// newCodec pre-encodes names and the value table for proto.
func newCodec(proto string, names []string) (*codec, error) {
	c := &codec{proto: proto, names: make([][]byte, len(names)), values: make([][]byte, valueCount)}
	for i, name := range names {
		var b []byte
		switch proto {
		case PickleTCP, PickleUDP:
			b = append(b, opBinUnicode)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
			b = append(b, name...)
		case MsgpackUDP:
			b = appendMsgpackStr(b, name)
		case PlaintextTCP, PlaintextUDP:
			b = append(append(b, name...), ' ')
		default:
			return nil, fmt.Errorf("cannot encode protocol %q: unknown", proto)
		}
		c.names[i] = b
	}
	for i := range c.values {
		v := Value(i)
		var b []byte
		switch proto {
		case PickleTCP, PickleUDP:
			b = binary.BigEndian.AppendUint64(append(b, opBinFloat), math.Float64bits(v))
		case MsgpackUDP:
			b = binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
		default:
			b = append(strconv.AppendFloat(b, v, 'g', -1, 64), ' ')
		}
		c.values[i] = b
	}
	return c, nil
}

// begin starts a payload of n datapoints (n ≥ 1) at the end of dst.
func (c *codec) begin(dst []byte, n int) []byte {
	switch c.proto {
	case PickleTCP:
		return append(dst, 0, 0, 0, 0, opProto, 2, opEmptyList, opMark)
	case PickleUDP:
		return append(dst, opProto, 2, opEmptyList, opMark)
	case MsgpackUDP:
		if n == 1 {
			return dst // a single item is sent bare: [name, [ts, value]]
		}
		return appendMsgpackArray(dst, n)
	}
	return dst
}

// add appends datapoint i (counting from 0 within the payload) of metric m.
func (c *codec) add(dst []byte, i, m int, ts int64, value int) []byte {
	switch c.proto {
	case PickleTCP, PickleUDP:
		if i > 0 && i%pickleBatch == 0 {
			dst = append(dst, opAppends, opMark)
		}
		dst = append(dst, c.names[m]...)
		dst = appendPickleInt(dst, ts)
		dst = append(dst, c.values[value]...)
		return append(dst, opTuple2, opTuple2)
	case MsgpackUDP:
		dst = append(dst, 0x92)
		dst = append(dst, c.names[m]...)
		dst = append(dst, 0x92)
		dst = appendMsgpackInt(dst, ts)
		return append(dst, c.values[value]...)
	default:
		dst = append(dst, c.names[m]...)
		dst = append(dst, c.values[value]...)
		dst = strconv.AppendInt(dst, ts, 10)
		return append(dst, '\n')
	}
}

// end closes the payload that begin started at offset start of dst.
func (c *codec) end(dst []byte, start int) []byte {
	switch c.proto {
	case PickleTCP:
		dst = append(dst, opAppends, opStop)
		binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	case PickleUDP:
		dst = append(dst, opAppends, opStop)
	}
	return dst
}

// appendPickleInt writes an int as Python's protocol-2 pickler does: BININT1, BININT2, BININT
// or LONG1 (little-endian two's complement, shortest form).
func appendPickleInt(dst []byte, v int64) []byte {
	switch {
	case 0 <= v && v < 1<<8:
		return append(dst, opBinInt1, byte(v))
	case 0 <= v && v < 1<<16:
		return append(dst, opBinInt2, byte(v), byte(v>>8))
	case math.MinInt32 <= v && v <= math.MaxInt32:
		return binary.LittleEndian.AppendUint32(append(dst, opBinInt), uint32(v))
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], uint64(v))
	n := 8
	// Drop redundant sign bytes: 0x00 before a byte with bit 7 clear, 0xff before one with it set.
	for n > 1 && (le[n-1] == 0 && le[n-2]&0x80 == 0 || le[n-1] == 0xff && le[n-2]&0x80 != 0) {
		n--
	}
	return append(append(dst, opLong1, byte(n)), le[:n]...)
}

// appendMsgpackInt writes an int in msgpack's most compact form, as Python's msgpack does.
func appendMsgpackInt(dst []byte, v int64) []byte {
	switch {
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
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

// appendMsgpackStr writes a msgpack str (fixstr, str8, str16 or str32).
func appendMsgpackStr(dst []byte, s string) []byte {
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

// appendMsgpackArray writes a msgpack array header of n elements.
func appendMsgpackArray(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

// maxPointBytes bounds the encoded size of one datapoint of a name of nameLen bytes in any
// format, for checking that a UDP batch fits a datagram.
func maxPointBytes(nameLen int) int { return nameLen + 5 + 1 + 9 + 1 + 24 + 2 + 2 }
