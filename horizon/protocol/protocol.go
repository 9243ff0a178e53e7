// Package protocol names horizon's listener protocols, once for the whole tree: the listeners
// and their Prometheus labels, the flags that set their addresses ("--pickle-tcp", …), and the
// senders that drive them (kale seed, kale loadgen). It sits beside the wire-format packages
// (pickle, plaintext, msgpackudp, promwrite, influx, otlp, statsd) and depends on nothing.
package protocol

import "strings"

// The Graphite-family listener protocols: a wire format and a transport.
const (
	PickleTCP    = "pickle-tcp"    // carbon pickle frames (uint32 length + pickle), TCP 2024
	PickleUDP    = "pickle-udp"    // one pickle per datagram, UDP 2024
	MsgpackUDP   = "msgpack-udp"   // Skyline msgpack datagrams, UDP 2025
	PlaintextTCP = "plaintext-tcp" // Graphite plaintext lines, TCP 2003
	PlaintextUDP = "plaintext-udp" // Graphite plaintext lines, UDP 2003
)

// The listeners of the other senders. IngestHTTP serves four formats, each counted under
// its own label (RemoteWrite, InfluxV1, InfluxV2, OTLP); StatsdUDP is both a listener and a label.
const (
	IngestHTTP = "ingest-http" // HTTP ingest (remote_write, Influx line protocol, OTLP), TCP 2006
	StatsdUDP  = "statsd-udp"  // StatsD lines, aggregated and flushed every --statsd-flush, UDP 8125
)

// The per-format labels of the counters of the HTTP ingest listener.
const (
	RemoteWrite = "remote-write" // Prometheus remote_write v1, POST /api/v1/write
	InfluxV1    = "influx-v1"    // InfluxDB line protocol, POST /write
	InfluxV2    = "influx-v2"    // InfluxDB line protocol, POST /api/v2/write
	OTLP        = "otlp"         // OpenTelemetry metrics, OTLP/HTTP protobuf, POST /v1/metrics
)

// All lists the five Graphite-family protocols in a fixed order: the listeners that kale seed
// and kale loadgen send through, in the order horizon binds them and reports print them.
var All = []string{PickleTCP, PickleUDP, MsgpackUDP, PlaintextTCP, PlaintextUDP}

// Listeners lists every listener horizon can bind, in the order it binds them: All, then
// IngestHTTP and StatsdUDP.
var Listeners = []string{PickleTCP, PickleUDP, MsgpackUDP, PlaintextTCP, PlaintextUDP, IngestHTTP, StatsdUDP}

// Labels lists every value of the "protocol" label of horizon's counters: the listeners,
// except IngestHTTP, whose points are counted per format.
var Labels = []string{PickleTCP, PickleUDP, MsgpackUDP, PlaintextTCP, PlaintextUDP, RemoteWrite, InfluxV1, InfluxV2, OTLP, StatsdUDP}

// Network is the transport of a listener protocol or label: "udp" for the names ending in
// "-udp", "tcp" for the others (the HTTP formats included).
func Network(p string) string {
	if strings.HasSuffix(p, "-udp") {
		return "udp"
	}
	return "tcp"
}
