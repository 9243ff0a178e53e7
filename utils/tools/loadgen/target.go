package loadgen

import (
	"errors"
	"fmt"
	"github.com/kale-project/kale/horizon/protocol"
	"net"
	"strconv"
	"strings"
)

// Target is where the generator sends: one horizon listener.
type Target struct {
	Protocol string // listener option name ("pickle-tcp", "pickle-udp", "msgpack-udp", "plaintext-tcp", "plaintext-udp", "statsd-udp") or HTTP format ("remote-write", "influx-v1", "influx-v2")
	Network  string // "tcp" or "udp"
	Addr     string // host:port
}

// schemes maps every accepted URL scheme to a listener option name. The short forms match
// the listeners' native transport (pickle and plaintext are TCP, msgpack is UDP).
var schemes = map[string]string{
	"pickle":        protocol.PickleTCP,
	"pickle-tcp":    protocol.PickleTCP,
	"pickle-udp":    protocol.PickleUDP,
	"msgpack":       protocol.MsgpackUDP,
	"msgpack-udp":   protocol.MsgpackUDP,
	"plaintext":     protocol.PlaintextTCP,
	"plaintext-tcp": protocol.PlaintextTCP,
	"plaintext-udp": protocol.PlaintextUDP,
	"remote-write":  protocol.RemoteWrite,
	"influx":        protocol.InfluxV2,
	"influx-v2":     protocol.InfluxV2,
	"influx-v1":     protocol.InfluxV1,
	"statsd":        protocol.StatsdUDP,
	"statsd-udp":    protocol.StatsdUDP,
}

// SchemeHelp lists the accepted target forms for flag help and error messages.
const SchemeHelp = "pickle://HOST:PORT (TCP), pickle-udp://, msgpack:// (UDP), plaintext:// (TCP), plaintext-udp://, " +
	"remote-write:// (HTTP POST /api/v1/write), influx:// (HTTP POST /api/v2/write; influx-v1:// for /write) or statsd:// (UDP gauges)"

// ParseTarget parses PROTO://HOST:PORT, e.g. "pickle://127.0.0.1:2024". The long listener
// names ("pickle-tcp://", "msgpack-udp://", "plaintext-tcp://") are accepted too; the host
// may be empty (the local system), the port may not.
func ParseTarget(s string) (Target, error) {
	scheme, addr, ok := strings.Cut(s, "://")
	if !ok {
		return Target{}, fmt.Errorf("cannot parse target %q: want %s", s, SchemeHelp)
	}
	proto, ok := schemes[strings.ToLower(scheme)]
	if !ok {
		return Target{}, fmt.Errorf("cannot parse target %q: unknown protocol %q, want %s", s, scheme, SchemeHelp)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Target{}, fmt.Errorf("cannot parse target %q: %w", s, err)
	}
	if strings.ContainsAny(host, "/?#@") {
		return Target{}, fmt.Errorf("cannot parse target %q: %w", s, errors.New("want only HOST:PORT after the scheme"))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("cannot parse target %q: port %q is not a number in 1..65535", s, port)
	}
	return Target{Protocol: proto, Network: protocol.Network(proto), Addr: addr}, nil
}

// HTTP reports whether the target is a format of horizon's HTTP ingest listener.
func (t Target) HTTP() bool {
	return t.Protocol == protocol.RemoteWrite || t.Protocol == protocol.InfluxV1 || t.Protocol == protocol.InfluxV2
}

// URL is the endpoint an HTTP target posts to ("" for the others).
func (t Target) URL() string {
	switch t.Protocol {
	case protocol.RemoteWrite:
		return "http://" + t.Addr + "/api/v1/write"
	case protocol.InfluxV1:
		return "http://" + t.Addr + "/write?precision=s"
	case protocol.InfluxV2:
		return "http://" + t.Addr + "/api/v2/write?precision=s"
	}
	return ""
}

// String is the canonical form, e.g. "pickle-tcp://127.0.0.1:2024".
func (t Target) String() string { return t.Protocol + "://" + t.Addr }
