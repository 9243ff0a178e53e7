package main

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/config"
)

func TestPlanFDs(t *testing.T) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	c := config.DefaultConfig()

	p := planFDs(c, true, true, false)
	require.Equal(t, lim.Max, p.Limit, "the soft limit is raised to the hard limit")
	require.Equal(t, 2*c.MaxConns, p.Horizon, "pickle-tcp and plaintext-tcp")

	// A limit too small for --max-conns: warned about, and the webapp's cap shrinks to what is
	// left (never below the floor).
	c.MaxConns = int(p.Limit)
	p = planFDs(c, true, true, true)
	require.False(t, p.HorizonFits)
	require.True(t, p.WebappClamps)
	require.Equal(t, minWebappConns, p.WebappMax)

	// Nothing of horizon in this process: the webapp keeps its cap when it fits.
	c = config.DefaultConfig()
	c.WebappMaxConns = 8
	p = planFDs(c, false, true, false)
	require.True(t, p.HorizonFits)
	require.False(t, p.WebappClamps)
	require.Equal(t, 8, p.WebappMax)
}
