package golden

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

// TestRun: many cases come out in input order with a summary of them; a bad line stops the
// run after the cases before it, naming the input; a cancelled context stops it too.
func TestRun(t *testing.T) {
	ev, err := NewEvaluator(algorithms.SkylineCompatSettings())
	require.NoError(t, err)
	var in strings.Builder
	const n = 500
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&in, `{"id":"c%d","now":1400000000,"series":[]}`+"\n", i)
		} else {
			fmt.Fprintf(&in, `{"id":"c%d","now":1400000600,"series":[[1400000000,1],[1400000060,2]]}`+"\n", i)
		}
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), strings.NewReader(in.String()), "cases.jsonl", ev, &out, nil)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, n)
	for i, line := range lines {
		require.True(t, strings.HasPrefix(line, fmt.Sprintf(`{"id":"c%d",`, i)), line)
	}
	require.Equal(t, Summary{Cases: n, Exceptions: map[string]int{"TooShort": n / 2, "Stale": n / 2}}, sum)
	require.Equal(t, "Stale 250, TooShort 250", sum.ExceptionList())
	require.Equal(t, "none", Summary{}.ExceptionList())

	out.Reset()
	bad := `{"id":"ok","now":1,"series":[]}` + "\n" + `{"id":"bad","now":` + "\n"
	sum, err = Run(context.Background(), strings.NewReader(bad), "in.jsonl", ev, &out, nil)
	require.ErrorContains(t, err, `cannot read "in.jsonl": cannot parse case on line 2`)
	require.Equal(t, 1, sum.Cases)
	require.Equal(t, 1, strings.Count(out.String(), "\n"))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, strings.NewReader(in.String()), "cases.jsonl", ev, &out, nil)
	require.ErrorIs(t, err, context.Canceled)
}
