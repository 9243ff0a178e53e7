package horizon_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
)

// End-to-end ingest throughput over HTTP: requests as Prometheus (2000 samples) and Telegraf
// (1000 fields) batch them, sent by 8 keep-alive clients into horizon with a real Redis;
// the clock stops once every point is stored. points/s is the figure to compare.

const benchSenders = 8

func BenchmarkIngestHTTPRemoteWrite(b *testing.B) {
	now := time.Now().Unix()
	var ss []prompb.TimeSeries
	for i := range 2000 {
		ss = append(ss, prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: fmt.Sprintf("node_metric_%d", i%50)}, {Name: "cpu", Value: fmt.Sprint(i % 8)},
			{Name: "instance", Value: fmt.Sprintf("host-%02d:9100", i%40)}, {Name: "job", Value: "node"}, {Name: "mode", Value: "idle"},
		}, Samples: []prompb.Sample{{Value: float64(i) * 1.5, Timestamp: now*1000 + int64(i)}}})
	}
	benchHTTP(b, "/api/v1/write", remoteWrite(b, ss...), 2000, rwHeaders...)
}

func BenchmarkIngestHTTPInflux(b *testing.B) {
	now := time.Now().Unix()
	var sb strings.Builder
	for i := range 250 {
		fmt.Fprintf(&sb, "cpu,host=host-%02d,cpu=cpu%d,dc=eu-%d usage_user=%d.5,usage_system=%di,usage_idle=%d.25,online=true %d\n",
			i%16, i%8, i%3, i%100, i, 90-i%90, now)
	}
	benchHTTP(b, "/write?precision=s", []byte(sb.String()), 1000)
}

func benchHTTP(b *testing.B, path string, body []byte, points int, hdr ...string) {
	e := start(b, listen(func(c *horizon.Config) { c.FlushInterval = 250 * time.Millisecond }, protocol.IngestHTTP))
	defer e.stop()
	url := "http://" + e.svc.Addr(protocol.IngestHTTP) + path
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}
	defer client.CloseIdleConnections()
	var left, retries atomic.Int64
	left.Store(int64(b.N))
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range benchSenders {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				for {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					for i := 0; i+1 < len(hdr); i += 2 {
						req.Header.Set(hdr[i], hdr[i+1])
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusNoContent {
						break
					}
					if resp.StatusCode != http.StatusTooManyRequests {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					retries.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	want := float64(b.N * points)
	for metricWith(b, e.reg, "kale_horizon_stored_total") < want {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(want/time.Since(start).Seconds(), "points/s")
	b.ReportMetric(float64(retries.Load())/float64(b.N), "429/op")
}
