package loadgen

import (
	"fmt"

	"github.com/kale-project/kale/horizon/msgpackudp"
	"github.com/kale-project/kale/horizon/pickle"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/metric"
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

// codec builds payloads of one wire format from pre-encoded templates: each metric's name is
// encoded once, each value of the table once, so a datapoint costs two copies and a
// timestamp. It is the generator's hot path; a payload is begin, add × n, end. The bytes come
// from horizon's wire-format packages (their Append building blocks), so what the generator
// sends is what their decoders read.
type codec struct {
	proto  string
	names  [][]byte // per metric: the name in wire form
	values [][]byte // valueCount values in wire form
}

// newCodec pre-encodes names and the value table for proto.
func newCodec(proto string, names []string) (*codec, error) {
	var name func([]byte, string) []byte
	var number func([]byte, metric.Number) []byte
	switch proto {
	case protocol.PickleTCP, protocol.PickleUDP:
		name, number = pickle.AppendName, pickle.AppendNumber
	case protocol.MsgpackUDP:
		name, number = msgpackudp.AppendName, msgpackudp.AppendNumber
	case protocol.PlaintextTCP, protocol.PlaintextUDP:
		name = func(dst []byte, s string) []byte { return append(dst, s...) }
		number = plaintext.AppendNumber
	default:
		return nil, fmt.Errorf("cannot encode protocol %q: unknown", proto)
	}
	c := &codec{proto: proto, names: make([][]byte, len(names)), values: make([][]byte, valueCount)}
	for i, n := range names {
		c.names[i] = name(nil, n)
	}
	for i := range c.values {
		c.values[i] = number(nil, metric.Float(Value(i)))
	}
	return c, nil
}

// begin starts a payload of n datapoints (n ≥ 1) at the end of dst.
func (c *codec) begin(dst []byte, n int) []byte {
	switch c.proto {
	case protocol.PickleTCP, protocol.PickleUDP:
		return pickle.AppendHeader(dst, c.proto == protocol.PickleTCP)
	case protocol.MsgpackUDP:
		return msgpackudp.AppendHeader(dst, n) // a single item is sent bare: [name, [ts, value]]
	}
	return dst
}

// add appends datapoint i (counting from 0 within the payload) of metric m.
func (c *codec) add(dst []byte, i, m int, ts int64, value int) []byte {
	switch c.proto {
	case protocol.PickleTCP, protocol.PickleUDP:
		return pickle.AppendItem(dst, i, c.names[m], metric.Int(ts), c.values[value])
	case protocol.MsgpackUDP:
		return msgpackudp.AppendItem(dst, c.names[m], metric.Int(ts), c.values[value])
	default:
		return plaintext.AppendLine(dst, c.names[m], c.values[value], metric.Int(ts))
	}
}

// end closes the payload that begin started at offset start of dst.
func (c *codec) end(dst []byte, start int) []byte {
	switch c.proto {
	case protocol.PickleTCP, protocol.PickleUDP:
		return pickle.AppendTrailer(dst, start, c.proto == protocol.PickleTCP)
	}
	return dst
}

// maxPointBytes bounds the encoded size of one datapoint of a name of nameLen bytes in any
// format, for checking that a UDP batch fits a datagram.
func maxPointBytes(nameLen int) int { return nameLen + 5 + 1 + 9 + 1 + 24 + 2 + 2 }
