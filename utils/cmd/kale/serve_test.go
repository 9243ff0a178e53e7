package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redisstore"
)

// hungRedis accepts connections and never answers, like a SIGSTOPped redis-server.
func hungRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// /healthz answers within its 2 s bound when Redis hangs: 200 (the process is alive) with
// Redis reported as timed out, so a liveness probe never restarts a healthy process.
func TestHealthzBoundedWithHungRedis(t *testing.T) {
	store, err := redisstore.Open("redis://"+hungRedis(t)+"/0", redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	h := opsHandler(prometheus.NewRegistry(), store, nil)

	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	took := time.Since(start)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Less(t, took, 2*time.Second+500*time.Millisecond, "answered after %v", took)
	var body struct {
		Redis string `json:"redis"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "timeout", body.Redis)
}
