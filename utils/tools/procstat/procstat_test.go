package procstat

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCPUAndMemory(t *testing.T) {
	for _, pid := range []int{Self, os.Getpid()} {
		start, ok := CPU(pid)
		require.True(t, ok)
		deadline := time.Now().Add(100 * time.Millisecond)
		x := 0.0
		for time.Now().Before(deadline) {
			x += math.Sqrt(x + 1)
		}
		require.Greater(t, x, 0.0)
		now, ok := CPU(pid)
		require.True(t, ok)
		require.Greater(t, now, start, "CPU time advances while this process computes")
		rss, peak, ok := Memory(pid)
		require.True(t, ok)
		require.Positive(t, rss)
		require.GreaterOrEqual(t, peak, rss)
	}
	cpu, ok := CPU(-1)
	require.False(t, ok)
	require.Zero(t, cpu)
	_, _, ok = Memory(-1)
	require.False(t, ok)
}
