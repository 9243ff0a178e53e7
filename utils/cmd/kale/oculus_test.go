package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestOculusCommand(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	enc := redisstore.NewEncoder()
	now := time.Now().Unix()
	data := map[string][]byte{}
	for _, name := range []string{"a.one", "a.two", "b.three"} {
		var b []byte
		for i := range 30 {
			b = enc.AppendPair(b, metric.Int(now-int64(30-i)), metric.Float(float64(i*len(name)%7)))
		}
		data[store.FullKey(name)] = b
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)

	index := filepath.Join(t.TempDir(), "oculus.bleve")
	for _, args := range [][]string{
		{"--redis", srv.URL(), "--oculus-index", index, "--oculus-interval", "1s"},
		{"--redis", srv.URL(), "--oculus-index", index, "--rebuild", "--metrics-addr", "127.0.0.1:0"},
	} {
		rdb := store.Client()
		require.NoError(t, rdb.Del(ctx, indexstore.KeyDocuments).Err())
		cctx, cancel := context.WithCancel(ctx)
		errb := &lockedBuffer{}
		done := make(chan error, 1)
		go func() { done <- runOculus(cctx, args, &bytes.Buffer{}, errb) }()
		want := "oculus sync done"
		if args[4] == "--rebuild" {
			want = "shape index rebuilt"
		}
		require.Eventually(t, func() bool {
			n, err := rdb.Get(ctx, indexstore.KeyDocuments).Int()
			return err == nil && n == 3 && strings.Contains(errb.String(), want)
		}, 20*time.Second, 20*time.Millisecond, "the index holds the three metrics")
		cancel()
		require.NoError(t, <-done)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writing goroutine and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestOculusCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	err := runOculus(context.Background(), []string{"--redis", "embedded"}, &out, &errb)
	require.ErrorIs(t, err, errUsage)
	err = runOculus(context.Background(), []string{"stray"}, &out, &errb)
	require.ErrorIs(t, err, errUsage)
}
