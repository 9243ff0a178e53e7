package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
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
	require.Equal(t, horizon.Protocols, func() (ps []string) {
		for _, l := range got.Listeners {
			ps = append(ps, l.Protocol)
		}
		return ps
	}())
}

// Every configured field reaches horizon: a changed option changes the mapped config.
func TestHorizonConfigExplicit(t *testing.T) {
	c := config.DefaultConfig()
	c.PlaintextTCP = ""
	got := horizonConfig(c, func(o string) bool { return o == "msgpack-udp" })
	for _, l := range got.Listeners {
		require.Equal(t, l.Protocol == "msgpack-udp", l.Explicit, l.Protocol)
		if l.Protocol == "plaintext-tcp" {
			require.Empty(t, l.Addr)
		}
	}
}
