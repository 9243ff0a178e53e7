package horizon

import (
	"fmt"
	"time"

	"github.com/kale-project/kale/horizon/protocol"
)

// Listener is one listener's address. Protocol is one of horizon/protocol's Listeners
// ("pickle-tcp", …, "ingest-http", "statsd-udp"), which are also the flags that set the
// addresses.
type Listener struct {
	Protocol string
	Addr     string // host:port; "" disables the listener
	// Explicit reports that the user chose Addr: if it cannot bind, New fails. A listener
	// left at its default address that cannot bind is reported as down and skipped.
	Explicit bool
	// Env names the environment variable that also sets the address, for the log line that
	// says how to fix a listener that is down ("" leaves it out).
	Env string
}

// Config is what horizon needs to run: its listeners, the limits decoders and listeners
// enforce, the writer's batching and filters, and Roomba's windows. utils/cmd/kale maps the
// command line onto it; the meaning of each field is the help of the flag of the same name.
type Config struct {
	Listeners []Listener

	// IngestToken, when set, is required by every write to the ingest-http listener (bearer
	// token, Influx "Token", basic-auth password or Influx v1 p=).
	IngestToken string
	// StatsdFlush is the statsd-udp listener's aggregation interval (Etsy's flushInterval).
	StatsdFlush time.Duration

	// Namespaces and windows (Skyline FULL_NAMESPACE, MINI_NAMESPACE, FULL_DURATION,
	// MINI_DURATION); Mini also writes the mini namespace.
	FullNamespace string
	MiniNamespace string
	FullDuration  time.Duration
	MiniDuration  time.Duration
	Mini          bool

	// Decoder and listener limits.
	MaxNameLength    int
	MaxFrame         int
	MaxItems         int
	MaxConns         int
	TCPIdleTimeout   time.Duration
	MaxInflightBytes int
	UDPReadBuffer    int

	// Writer: queue, batching and ingest filters.
	QueueSize              int
	FlushInterval          time.Duration
	FlushPoints            int
	MaxResolution          time.Duration
	MaxFuture              time.Duration
	SkipList               []string
	MaxMetrics             int
	MaxNewMetricsPerMinute int
	ShutdownTimeout        time.Duration

	// Roomba.
	Roomba          bool
	RoombaInterval  time.Duration
	RoombaGraceTime time.Duration
}

// Protocols lists the five Graphite-family listener protocols, the ones kale seed and kale
// loadgen drive, in the order New binds them; protocol.Listeners adds ingest-http and
// statsd-udp.
var Protocols = protocol.All

// DefaultConfig returns horizon with Skyline's defaults: every listener on the loopback
// interface (the Graphite family on Graphite's ports, HTTP ingest on 2006, StatsD on 8125),
// Roomba on. It equals what utils/cmd/kale maps from the
// configuration defaults (a test there checks it).
func DefaultConfig() Config {
	return Config{
		Listeners: []Listener{
			{Protocol: protocol.PickleTCP, Addr: "127.0.0.1:2024"},
			{Protocol: protocol.PickleUDP, Addr: "127.0.0.1:2024"},
			{Protocol: protocol.MsgpackUDP, Addr: "127.0.0.1:2025"},
			{Protocol: protocol.PlaintextTCP, Addr: "127.0.0.1:2003"},
			{Protocol: protocol.PlaintextUDP, Addr: "127.0.0.1:2003"},
			{Protocol: protocol.IngestHTTP, Addr: "127.0.0.1:2006"},
			{Protocol: protocol.StatsdUDP, Addr: "127.0.0.1:8125"},
		},
		StatsdFlush:   10 * time.Second,
		FullNamespace: "metrics.", MiniNamespace: "mini.",
		FullDuration: 86400 * time.Second, MiniDuration: 3600 * time.Second,
		MaxNameLength: 255, MaxFrame: 4 << 20, MaxItems: 100_000, MaxConns: 4096,
		TCPIdleTimeout: 2 * time.Minute, MaxInflightBytes: 32 << 20, UDPReadBuffer: 8 << 20,
		QueueSize: 1_000_000, FlushInterval: 250 * time.Millisecond, FlushPoints: 100_000,
		MaxResolution: 1000 * time.Second, MaxFuture: 10 * time.Minute,
		SkipList:               []string{"example.statsd.metric", "another.example.metric"},
		MaxNewMetricsPerMinute: 100_000, ShutdownTimeout: 10 * time.Second,
		Roomba: true, RoombaInterval: 30 * time.Second, RoombaGraceTime: 600 * time.Second,
	}
}

// Listen returns a copy of c whose listeners are the given protocols on free loopback ports
// ("127.0.0.1:0", set explicitly) and every other listener disabled: the setup of tests and
// of tools that start a private horizon.
func (c Config) Listen(protocols ...string) Config {
	c.Listeners = nil
	for _, p := range protocols {
		c.Listeners = append(c.Listeners, Listener{Protocol: p, Addr: "127.0.0.1:0", Explicit: true})
	}
	return c
}

// Validate reports a listener with an unknown protocol or listed twice, and a StatsD flush
// interval below a millisecond.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, l := range c.Listeners {
		known := false
		for _, p := range protocol.Listeners {
			known = known || p == l.Protocol
		}
		if !known {
			return fmt.Errorf("cannot configure horizon: unknown listener protocol %q", l.Protocol)
		}
		if seen[l.Protocol] {
			return fmt.Errorf("cannot configure horizon: listener %q listed twice", l.Protocol)
		}
		seen[l.Protocol] = true
		if l.Protocol == protocol.StatsdUDP && l.Addr != "" && c.StatsdFlush < time.Millisecond {
			return fmt.Errorf("cannot configure horizon: statsd flush interval %v is below 1ms", c.StatsdFlush)
		}
	}
	return nil
}
