package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cycles reads the cycle durations and shares from the JSON log lines, with each cycle's
// state summary, and ignores every other line.
func TestCycles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []map[string]any
		n     int
		want  []cycle
		err   bool
	}{
		{"kale detector", []map[string]any{
			{"msg": "listening"},
			{"msg": "analyzer cycle", "seconds": "12.50", "assigned": 50.0, "metrics": 100.0},
			{"msg": "kale detector states", "level": "INFO", "loaded": 50.0},
			{"msg": "analyzer cycle", "seconds": "1.25", "assigned": 100.0, "metrics": 100.0},
			{"msg": "kale detector states", "states": 100.0},
		}, 2, []cycle{{seconds: 12.5, assigned: 50, total: 100, states: `{"loaded":50}`},
			{seconds: 1.25, assigned: 100, total: 100, states: `{"states":100}`}}, false},
		{"skyline detector: no state line", []map[string]any{
			{"msg": "analyzer cycle", "seconds": "3.00", "assigned": 7.0, "metrics": 7.0},
		}, 1, []cycle{{seconds: 3, assigned: 7, total: 7}}, false},
		{"kale exits first", []map[string]any{
			{"msg": "analyzer cycle", "seconds": "3.00", "assigned": 7.0, "metrics": 7.0},
		}, 2, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &proc{lines: make(chan map[string]any, len(tc.lines))}
			for _, l := range tc.lines {
				p.lines <- l
			}
			if tc.err {
				close(p.lines)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := p.cycles(ctx, tc.n)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			for i := range got {
				got[i].cpu = 0
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// The seeded values are deterministic, and one metric in 50 has a spike near its end.
func TestValue(t *testing.T) {
	require.Equal(t, value(3, 10, 1440), value(3, 10, 1440))
	require.Greater(t, value(0, 1410, 1440)-value(0, 1409, 1440), 300.0)
	require.Less(t, value(1, 1410, 1440)-value(1, 1409, 1440), 50.0)
}
