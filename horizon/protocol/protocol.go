// Package protocol names horizon's listener protocols, once for the whole tree: the listeners
// and their Prometheus labels, the flags that set their addresses ("--pickle-tcp", …), and the
// senders that drive them (kale seed, kale loadgen). It sits beside the wire-format packages
// (pickle, plaintext, msgpackudp) and depends on nothing.
package protocol

import "strings"

// The listener protocols: a wire format and a transport.
const (
	PickleTCP    = "pickle-tcp"    // carbon pickle frames (uint32 length + pickle), TCP 2024
	PickleUDP    = "pickle-udp"    // one pickle per datagram, UDP 2024
	MsgpackUDP   = "msgpack-udp"   // Skyline msgpack datagrams, UDP 2025
	PlaintextTCP = "plaintext-tcp" // Graphite plaintext lines, TCP 2003
	PlaintextUDP = "plaintext-udp" // Graphite plaintext lines, UDP 2003
)

// All lists the protocols in a fixed order: the order horizon binds them and reports print
// them.
var All = []string{PickleTCP, PickleUDP, MsgpackUDP, PlaintextTCP, PlaintextUDP}

// Network is the transport of a protocol: "tcp" or "udp".
func Network(p string) string {
	if strings.HasSuffix(p, "-tcp") {
		return "tcp"
	}
	return "udp"
}
