package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestImportCommand(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "app.latency.csv")
	require.NoError(t, os.WriteFile(csvFile, []byte("timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:01:00,2\n"), 0o600))
	jsonFile := filepath.Join(dir, "shapes.jsonl")
	require.NoError(t, os.WriteFile(jsonFile, []byte(`{"metric":"shape.a","values":[1,2,3]}`+"\n"), 0o600))

	var out, errb bytes.Buffer
	err := runImport(context.Background(), []string{"--redis", srv.URL(), csvFile, "--step", "30", jsonFile}, &out, &errb)
	require.NoError(t, err, errb.String())
	require.Contains(t, out.String(), "imported 5 points into 2 metrics from 2 files")
	require.Contains(t, errb.String(), "app.latency.csv: 2 points")

	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	pairs, _, err := store.Series(context.Background(), "app.latency")
	require.NoError(t, err)
	require.Equal(t, []redisstore.Pair{{Timestamp: 1704067200, Value: 1.5}, {Timestamp: 1704067260, Value: 2}}, pairs)
	pairs, _, err = store.Series(context.Background(), "shape.a")
	require.NoError(t, err)
	require.Len(t, pairs, 3)
	require.Equal(t, 30.0, pairs[2].Timestamp-pairs[1].Timestamp, "--step 30")

	// A bad line: exit 1 with file:line, the summary still printed.
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("1,1\n2,NaN\n"), 0o600))
	out.Reset()
	err = runImport(context.Background(), []string{"--redis", srv.URL(), bad}, &out, &errb)
	require.ErrorContains(t, err, "bad.csv:2: value \"NaN\" is not finite")
	require.False(t, errors.Is(err, errUsage))
	require.Contains(t, out.String(), "imported 0 points", "the pending batch is not written")
}

func TestImportCommandUsage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis", "redis://127.0.0.1:1/0"}, "want at least one FILE"},
		{[]string{"--redis", "embedded", "x.csv"}, "throwaway in-memory server"},
		{[]string{"--redis", "redis://127.0.0.1:1/0", "--format", "xml", "x.csv"}, `--format "xml"`},
		{[]string{"--step", "-5", "x.csv"}, "must be positive"},
		{[]string{"--no-such-flag", "x.csv"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		err := runImport(ctx, tc.args, &out, &errb)
		require.ErrorIs(t, err, errUsage, "%v", tc.args)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
	var out, errb bytes.Buffer
	require.ErrorContains(t, runImport(ctx, []string{"--redis", "redis://127.0.0.1:1/0", "x.csv"}, &out, &errb), "cannot reach Redis")
	help := bytes.Buffer{}
	require.ErrorIs(t, runImport(ctx, []string{"-h"}, &out, &help), flag.ErrHelp)
	require.Contains(t, help.String(), "JSON lines")
	require.Contains(t, help.String(), "-metric")
}
