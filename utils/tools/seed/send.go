package seed

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/kale-project/kale/utils/metric"
	ogorek "github.com/kisielk/og-rek"
	"github.com/vmihailenco/msgpack/v5"
)

// Batch sizes: a carbon pickle frame holds up to 500 datapoints; a datagram up to about 1 kB
// (under a 1400-byte MTU), which is 20 datapoints with the demo names.
const (
	frameItems    = 500
	datagramItems = 20
	tcpLines      = 500
)

// udpPause spaces datagrams a little (every udpBurst of them) so that a busy horizon does not
// overflow its socket buffer with the demo data.
const (
	udpBurst = 32
	udpPause = time.Millisecond
)

// item is one datapoint of one metric.
type item struct {
	name string
	p    Point
}

// interleave orders the datapoints of series by timestamp, metric after metric at each
// timestamp, as a relay forwarding several metrics would.
func interleave(series []Series) []item {
	var out []item
	for j := 0; ; j++ {
		more := false
		for _, s := range series {
			if j < len(s.Points) {
				out = append(out, item{s.Name, s.Points[j]})
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// send delivers the datapoints of series through the listener t and returns how many
// datapoints went out in payloads the network accepted.
func send(ctx context.Context, t Target, series []Series) (int, error) {
	if len(series) == 0 {
		return 0, nil
	}
	network := "udp"
	if t.Protocol == PickleTCP || t.Protocol == PlaintextTCP {
		network = "tcp"
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, network, t.Addr)
	if err != nil {
		return 0, fmt.Errorf("cannot connect to %s at %s: %w", t.Protocol, t.Addr, err)
	}
	defer conn.Close()

	var payloads [][]byte
	var counts []int
	add := func(b []byte, n int) {
		payloads = append(payloads, b)
		counts = append(counts, n)
	}
	all := interleave(series)
	switch t.Protocol {
	case PickleTCP:
		// Python 3 carbon style: names as unicode, length-prefixed frames.
		for _, chunk := range chunks(all, frameItems) {
			p, err := encodePickle(chunk, true)
			if err != nil {
				return 0, err
			}
			frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(p)), uint32(len(p)))
			add(append(frame, p...), len(chunk))
		}
	case PickleUDP:
		// Python 2 carbon style: names as byte strings.
		for _, chunk := range chunks(all, datagramItems) {
			p, err := encodePickle(chunk, false)
			if err != nil {
				return 0, err
			}
			add(p, len(chunk))
		}
	case MsgpackUDP:
		// The first metric one datapoint per datagram, as Skyline's seed_data.py sent; the
		// others batched.
		for _, it := range interleave(series[:1]) {
			add(encodeMsgpack([]item{it}), 1)
		}
		for _, chunk := range chunks(interleave(series[1:]), datagramItems) {
			add(encodeMsgpack(chunk), len(chunk))
		}
	case PlaintextTCP:
		for _, chunk := range chunks(all, tcpLines) {
			add(encodePlaintext(chunk), len(chunk))
		}
	case PlaintextUDP:
		// The first metric one line per datagram, the others several lines per datagram.
		for _, it := range interleave(series[:1]) {
			add(encodePlaintext([]item{it}), 1)
		}
		for _, chunk := range chunks(interleave(series[1:]), datagramItems) {
			add(encodePlaintext(chunk), len(chunk))
		}
	}

	sent := 0
	for i, p := range payloads {
		if err := ctx.Err(); err != nil {
			return sent, fmt.Errorf("cannot send to %s at %s: %w", t.Protocol, t.Addr, err)
		}
		if _, err := conn.Write(p); err != nil {
			return sent, fmt.Errorf("cannot send to %s at %s: %w", t.Protocol, t.Addr, err)
		}
		sent += counts[i]
		if network == "udp" && (i+1)%udpBurst == 0 {
			time.Sleep(udpPause)
		}
	}
	return sent, nil
}

// chunks splits items into runs of at most n.
func chunks(items []item, n int) [][]item {
	var out [][]item
	for len(items) > 0 {
		k := min(n, len(items))
		out = append(out, items[:k])
		items = items[k:]
	}
	return out
}

// number is the Go value og-rek and msgpack encode for n: an int64 or a float64.
func number(n metric.Number) any {
	if n.IsInt {
		return n.I
	}
	return n.F
}

// encodePickle writes a protocol-2 pickle of [(name, (ts, value)), …] with og-rek, names as
// unicode (Python 3) or byte strings (Python 2).
func encodePickle(items []item, unicode bool) ([]byte, error) {
	list := make([]any, len(items))
	for i, it := range items {
		list[i] = ogorek.Tuple{it.name, ogorek.Tuple{it.p.Timestamp, number(it.p.Value)}}
	}
	var b bytes.Buffer
	enc := ogorek.NewEncoderWithConfig(&b, &ogorek.EncoderConfig{Protocol: 2, StrictUnicode: unicode})
	if err := enc.Encode(list); err != nil {
		return nil, fmt.Errorf("cannot encode a pickle of %d datapoints: %w", len(items), err)
	}
	return b.Bytes(), nil
}

// encodeMsgpack writes [name, [ts, value]] for one item, or an array of those.
func encodeMsgpack(items []item) []byte {
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	// Writes to a bytes.Buffer cannot fail.
	if len(items) > 1 {
		_ = enc.EncodeArrayLen(len(items))
	}
	for _, it := range items {
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeString(it.name)
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeInt(it.p.Timestamp)
		if it.p.Value.IsInt {
			_ = enc.EncodeInt(it.p.Value.I)
		} else {
			_ = enc.EncodeFloat64(it.p.Value.F)
		}
	}
	return b.Bytes()
}

// encodePlaintext writes "name value timestamp\n" lines; floats in the shortest form that
// parses back to the same float64.
func encodePlaintext(items []item) []byte {
	var b []byte
	for _, it := range items {
		b = append(append(b, it.name...), ' ')
		if it.p.Value.IsInt {
			b = strconv.AppendInt(b, it.p.Value.I, 10)
		} else {
			b = strconv.AppendFloat(b, it.p.Value.F, 'g', -1, 64)
		}
		b = append(b, ' ')
		b = strconv.AppendInt(b, it.p.Timestamp, 10)
		b = append(b, '\n')
	}
	return b
}
