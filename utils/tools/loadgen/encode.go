package loadgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/golang/snappy"

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
	case protocol.RemoteWrite:
		name, number = promLabels, promValue
	case protocol.InfluxV1, protocol.InfluxV2:
		name = func(dst []byte, s string) []byte {
			return append(append(dst, s...), ","+LabelName+"="+LabelValue+" value="...)
		}
		number = plaintext.AppendNumber
	case protocol.StatsdUDP:
		name = func(dst []byte, s string) []byte { return append(append(dst, s...), ':') }
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
	case protocol.RemoteWrite:
		return appendTimeSeries(dst, c.names[m], c.values[value], ts*1000)
	case protocol.InfluxV1, protocol.InfluxV2:
		dst = append(append(dst, c.names[m]...), c.values[value]...)
		return append(strconv.AppendInt(append(dst, ' '), ts, 10), '\n')
	case protocol.StatsdUDP: // StatsD lines carry no timestamp: horizon stamps each flush
		return append(append(append(dst, c.names[m]...), c.values[value]...), "|g\n"...)
	default:
		return plaintext.AppendLine(dst, c.names[m], c.values[value], metric.Int(ts))
	}
}

// end closes the payload that begin started at offset start of dst.
func (c *codec) end(dst []byte, start int) []byte {
	switch c.proto {
	case protocol.PickleTCP, protocol.PickleUDP:
		return pickle.AppendTrailer(dst, start, c.proto == protocol.PickleTCP)
	case protocol.RemoteWrite: // the WriteRequest is complete: compress it as Prometheus does
		zp := snappyBufs.Get().(*[]byte)
		defer snappyBufs.Put(zp)
		if n := snappy.MaxEncodedLen(len(dst) - start); cap(*zp) < n {
			*zp = make([]byte, n)
		}
		z := snappy.Encode(*zp, dst[start:])
		return append(dst[:start], z...)
	}
	return dst
}

// snappyBufs holds compression buffers between payloads (the codec is shared by senders).
var snappyBufs = sync.Pool{New: func() any { return new([]byte) }}

// The label (Prometheus, Influx) every series of the HTTP formats carries, so a generated
// series is stored under a tagged name, as real senders' series are (see StoredNames).
const (
	LabelName  = "job"
	LabelValue = "loadgen"
)

// StoredNames returns the names horizon stores the generated metrics under for proto:
// "loadgen.000042;job=loadgen" for remote-write (the name is __name__, the label is job),
// "loadgen.000042.value;job=loadgen" for Influx (measurement loadgen.000042, tag job, field
// value), the names themselves for the Graphite formats. StatsD gauges become
// "stats.gauges.<name>", one point per flush (not per datapoint sent).
func StoredNames(proto string, names []string) []string {
	var suffix, prefix string
	switch proto {
	case protocol.RemoteWrite:
		suffix = ";" + LabelName + "=" + LabelValue
	case protocol.InfluxV1, protocol.InfluxV2:
		suffix = ".value;" + LabelName + "=" + LabelValue
	case protocol.StatsdUDP:
		prefix = "stats.gauges."
	default:
		return names
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n + suffix
	}
	return out
}

// Protobuf wire tags of the remote_write v1 messages (prompb): WriteRequest.timeseries = 1,
// TimeSeries.labels = 1 and .samples = 2, Label.name = 1 and .value = 2 (all length-delimited),
// Sample.value = 1 (fixed64 double) and .timestamp = 2 (varint, milliseconds).
const (
	pbTimeseries = 1<<3 | 2
	pbLabels     = 1<<3 | 2
	pbSamples    = 2<<3 | 2
	pbLabelName  = 1<<3 | 2
	pbLabelValue = 2<<3 | 2
	pbValue      = 1<<3 | 1
	pbTimestamp  = 2<<3 | 0
)

// promLabels pre-encodes a series' labels, sorted by name as Prometheus sends them:
// __name__ = the generated name, then job = loadgen.
func promLabels(dst []byte, name string) []byte {
	label := func(dst []byte, k, v string) []byte {
		var m []byte
		m = append(binary.AppendUvarint(append(m, pbLabelName), uint64(len(k))), k...)
		m = append(binary.AppendUvarint(append(m, pbLabelValue), uint64(len(v))), v...)
		return append(binary.AppendUvarint(append(dst, pbLabels), uint64(len(m))), m...)
	}
	return label(label(dst, "__name__", name), LabelName, LabelValue)
}

// promValue pre-encodes Sample.value: its tag and the float64, little-endian.
func promValue(dst []byte, n metric.Number) []byte {
	return binary.LittleEndian.AppendUint64(append(dst, pbValue), math.Float64bits(n.Float64()))
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// appendTimeSeries appends one WriteRequest.timeseries entry: the pre-encoded labels and a
// single sample (the pre-encoded value and the timestamp in milliseconds).
func appendTimeSeries(dst, labels, value []byte, ms int64) []byte {
	sample := len(value) + 1 + uvarintLen(int(ms))
	series := len(labels) + 1 + uvarintLen(sample) + sample
	dst = binary.AppendUvarint(append(dst, pbTimeseries), uint64(series))
	dst = binary.AppendUvarint(append(append(dst, labels...), pbSamples), uint64(sample))
	return binary.AppendUvarint(append(append(dst, value...), pbTimestamp), uint64(ms))
}

// maxPointBytes bounds the encoded size of one datapoint of a name of nameLen bytes in any
// format, for checking that a UDP batch fits a datagram.
func maxPointBytes(nameLen int) int { return nameLen + 5 + 1 + 9 + 1 + 24 + 2 + 2 }
