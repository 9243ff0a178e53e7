package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/config"
)

// horizon.DefaultConfig, which tests and tools start from, is what the configuration
// defaults map to: the two cannot drift apart.
func TestHorizonDefaultConfigMatchesConfigDefaults(t *testing.T) {
	got := horizonConfig(config.DefaultConfig(), nil)
	for i := range got.Listeners {
		require.Equal(t, config.EnvName(got.Listeners[i].Protocol), got.Listeners[i].Env)
		got.Listeners[i].Env = ""
	}
	require.Equal(t, horizon.DefaultConfig(), got)
	require.Equal(t, protocol.Listeners, func() (ps []string) {
		for _, l := range got.Listeners {
			ps = append(ps, l.Protocol)
		}
		return ps
	}())
}

// Every configured field reaches horizon: a changed option changes the mapped config.
func TestHorizonConfigExplicit(t *testing.T) {
	c := config.DefaultConfig()
	c.PlaintextTCP, c.StatsdUDP, c.IngestHTTP = "", "", "0.0.0.0:12006"
	c.IngestToken, c.StatsdFlush = "t0ken", 3*time.Second
	got := horizonConfig(c, func(o string) bool { return o == "msgpack-udp" || o == "ingest-http" })
	for _, l := range got.Listeners {
		require.Equal(t, l.Protocol == "msgpack-udp" || l.Protocol == "ingest-http", l.Explicit, l.Protocol)
		switch l.Protocol {
		case "plaintext-tcp", "statsd-udp":
			require.Empty(t, l.Addr)
		case "ingest-http":
			require.Equal(t, "0.0.0.0:12006", l.Addr)
		}
	}
	require.Equal(t, "t0ken", got.IngestToken)
	require.Equal(t, 3*time.Second, got.StatsdFlush)
}
