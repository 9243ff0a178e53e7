package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// prometheusConfig scrapes Kale's /metrics every second and remote-writes everything to
// Kale's ingest-http listener, sending a batch at least every second.
const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kale
    static_configs:
      - targets: [%q]
remote_write:
  - url: http://%s/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 50ms
      max_backoff: 1s
    metadata_config:
      send_interval: 1s
`

// startPrometheus runs the prometheus binary with cfg on a free loopback port (never 9090,
// where a distribution's service may listen) and stops it when the test ends, printing its
// log if the test failed.
func startPrometheus(t *testing.T, bin, cfg string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))
	web := redistest.FreePort(t, "tcp")
	for strings.HasSuffix(web, ":9090") {
		web = redistest.FreePort(t, "tcp")
	}
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, "--config.file="+file, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start(), "cannot start prometheus")
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("prometheus log:\n%s", b)
		}
	})
}

func prometheusVersion(t *testing.T, bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

// A real Prometheus scrapes Kale's own /metrics and remote-writes the samples back to
// POST /api/v1/write: its series are stored under graphite-web's tagged names, labels
// sorted, timestamps in seconds, and none of its requests (samples or metadata) is refused.
func TestPrometheusRemoteWrite(t *testing.T) {
	bin := lookPath(t, "prometheus", "prometheus")
	t.Log(prometheusVersion(t, bin))
	k := startKale(t, nil, protocol.IngestHTTP)
	begin := time.Now()
	startPrometheus(t, bin, fmt.Sprintf(prometheusConfig, k.metrics, k.svc.Addr(protocol.IngestHTTP)))

	labels := ";instance=" + k.metrics + ";job=kale"
	up := k.waitSeries(t, "up"+labels, 20*time.Second, func(p []redisstore.Pair) bool { return p[len(p)-1].Value == 1 })
	t.Logf("first sample stored %v after prometheus started", time.Since(begin).Round(time.Millisecond))
	ts := up[len(up)-1].Timestamp
	require.InDelta(t, float64(time.Now().Unix()), ts, 30, "a Prometheus timestamp (ms) is stored in seconds")

	// Kale's own counter of remote-written points, scraped after the first remote write.
	p := k.waitSeries(t, "kale_horizon_received_total"+labels+";protocol=remote-write", 10*time.Second,
		func(p []redisstore.Pair) bool { return p[len(p)-1].Value > 0 })
	require.LessOrEqual(t, p[len(p)-1].Value, k.counter(t, "kale_horizon_received_total", "protocol", "remote-write"))
	k.waitSeries(t, "kale_horizon_listener_up"+labels+";protocol=ingest-http", 5*time.Second,
		func(p []redisstore.Pair) bool { return p[len(p)-1].Value == 1 })
	// A classic histogram arrives as its _bucket series with an le label.
	k.waitSeries(t, "kale_horizon_flush_seconds_bucket"+labels+";le=+Inf", 5*time.Second,
		func(p []redisstore.Pair) bool { return p[len(p)-1].Value > 0 })

	require.Zero(t, k.counter(t, "kale_horizon_rejected_total", "protocol", "remote-write"),
		"Kale refused some of Prometheus's samples or requests")
	t.Logf("done %v after prometheus started", time.Since(begin).Round(time.Millisecond))
}
