package seed

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/kale-project/kale/horizon/msgpackudp"
	"github.com/kale-project/kale/horizon/pickle"
	"github.com/kale-project/kale/horizon/plaintext"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/metric"
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
	network := protocol.Network(t.Protocol)
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
	case protocol.PickleTCP:
		// Python 3 carbon style: names as unicode, length-prefixed frames.
		for _, chunk := range chunks(all, frameItems) {
			add(pickle.AppendFrame(nil, points(chunk)), len(chunk))
		}
	case protocol.PickleUDP:
		// Python 2 carbon style: names as byte strings.
		for _, chunk := range chunks(all, datagramItems) {
			add(encodePickle(chunk, false), len(chunk))
		}
	case protocol.MsgpackUDP:
		// The first metric one datapoint per datagram, as Skyline's seed_data.py sent; the
		// others batched.
		for _, it := range interleave(series[:1]) {
			add(encodeMsgpack([]item{it}), 1)
		}
		for _, chunk := range chunks(interleave(series[1:]), datagramItems) {
			add(encodeMsgpack(chunk), len(chunk))
		}
	case protocol.PlaintextTCP:
		for _, chunk := range chunks(all, tcpLines) {
			add(encodePlaintext(chunk), len(chunk))
		}
	case protocol.PlaintextUDP:
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

// points converts items to what the wire encoders take.
func points(items []item) []metric.Point {
	pts := make([]metric.Point, len(items))
	for i, it := range items {
		pts[i] = metric.Point{Name: it.name, Timestamp: metric.Int(it.p.Timestamp), Value: it.p.Value}
	}
	return pts
}

// encodePickle writes a protocol-2 pickle of [(name, (ts, value)), …] with horizon's pickle
// encoder, names as unicode (Python 3 carbon) or byte strings (Python 2 carbon).
func encodePickle(items []item, unicode bool) []byte {
	if unicode {
		return pickle.Append(nil, points(items))
	}
	b := pickle.AppendHeader(nil, false)
	var value [9]byte
	for i, it := range items {
		b = pickle.AppendItem(b, i, pickle.AppendBytesName(nil, it.name), metric.Int(it.p.Timestamp), pickle.AppendNumber(value[:0], it.p.Value))
	}
	return pickle.AppendTrailer(b, 0, false)
}

// encodeMsgpack writes [name, [ts, value]] for one item, or an array of those.
func encodeMsgpack(items []item) []byte { return msgpackudp.Append(nil, points(items)) }

// encodePlaintext writes "name value timestamp\n" lines.
func encodePlaintext(items []item) []byte { return plaintext.Append(nil, points(items)) }
