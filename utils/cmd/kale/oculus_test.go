package main

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/priority"
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

func TestOculusConfigMapping(t *testing.T) {
	c := config.DefaultConfig()
	c.OculusIndex, c.OculusSource, c.OculusWindow, c.OculusInterval = "/data/idx", "mini", 2*time.Hour, 3*time.Minute
	c.SearchLength, c.SearchTimeout, c.SearchMaxWork = 128, 5*time.Second, 9_000_000
	c.FullNamespace, c.MiniNamespace = "full.", "short."
	got := oculusConfig(c)
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "oculus.Config.%s is not mapped", v.Type().Field(i).Name)
	}
	require.Equal(t, oculus.Config{
		IndexPath: "/data/idx", Source: "mini", Window: 2 * time.Hour, Interval: 3 * time.Minute,
		SearchLength: 128, SearchTimeout: 5 * time.Second, SearchMaxWork: 9_000_000,
		FullNamespace: "full.", MiniNamespace: "short.",
	}, got)
	// The flag defaults are oculus's own defaults (the index path aside: kale keeps it on disk).
	def := oculusConfig(config.DefaultConfig())
	def.IndexPath = ""
	require.Equal(t, oculus.DefaultConfig(), def)
}

// oculusGate hands the process's one Gate to the oculus service, as 'kale all' does for the
// analyzer too.
func TestOculusGateOption(t *testing.T) {
	gate := &priority.Gate{}
	var o oculus.Options
	oculusGate(gate)(&o)
	require.Same(t, gate, o.Gate)
	oculusGate(nil)(&o)
	require.Nil(t, o.Gate)
}
