package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redisstore"
)

// The InfluxDB v2 client library writes to POST /api/v2/write with a token: every numeric
// field becomes one series measurement.field;tag=value;… (tags sorted), booleans 1/0, a
// string field is refused while the point's other fields are kept, and a wrong token is
// refused.
func TestInfluxClient(t *testing.T) {
	const token = "s3cret"
	k := startKale(t, func(c *horizon.Config) { c.IngestToken = token }, protocol.IngestHTTP)
	url := "http://" + k.svc.Addr(protocol.IngestHTTP)
	now := time.Now().Truncate(time.Second)
	ctx := context.Background()
	const wait = 5 * time.Second
	at := func(ts time.Time, v float64) []redisstore.Pair {
		return []redisstore.Pair{{Timestamp: float64(ts.Unix()), Value: v}}
	}
	// Each series below gets one point; the comparison after the wait checks it.
	hasLen := func(want []redisstore.Pair) func([]redisstore.Pair) bool {
		return func(p []redisstore.Pair) bool { return len(p) >= len(want) }
	}

	t.Run("blocking", func(t *testing.T) {
		c := influxdb2.NewClient(url, token) // nanosecond precision
		defer c.Close()
		w := c.WriteAPIBlocking("org", "bucket")
		require.NoError(t, w.WritePoint(ctx, influxdb2.NewPoint("bar_influx",
			map[string]string{"host": "a", "dc": "x"},
			map[string]any{"cpu": 1.5, "mem": int64(2), "ok": true, "n": uint64(3)}, now)))
		for name, v := range map[string]float64{"cpu": 1.5, "mem": 2, "ok": 1, "n": 3} {
			want := at(now, v)
			require.Equal(t, want, k.waitSeries(t, "bar_influx."+name+";dc=x;host=a", wait, hasLen(want)))
		}

		// A line as Telegraf writes it, in seconds.
		cs := influxdb2.NewClientWithOptions(url, token, influxdb2.DefaultOptions().SetPrecision(time.Second))
		defer cs.Close()
		require.NoError(t, cs.WriteAPIBlocking("org", "bucket").WriteRecord(ctx,
			fmt.Sprintf("line_influx,host=a,dc=x cpu=2.5,mem=4i %d", now.Unix())))
		want := at(now, 2.5)
		require.Equal(t, want, k.waitSeries(t, "line_influx.cpu;dc=x;host=a", wait, hasLen(want)))

		err := w.WritePoint(ctx, influxdb2.NewPoint("str_influx", map[string]string{"host": "a"},
			map[string]any{"note": "text", "v": 7.0}, now))
		var herr *influxhttp.Error
		require.ErrorAs(t, err, &herr)
		require.Equal(t, http.StatusBadRequest, herr.StatusCode, "a string field is refused (partial write)")
		want = at(now, 7)
		require.Equal(t, want, k.waitSeries(t, "str_influx.v;host=a", wait, hasLen(want)))
		require.Equal(t, 1.0, k.counter(t, "kale_horizon_rejected_total", "protocol", "influx-v2", "reason", "bad_type"))
	})

	t.Run("wrong token", func(t *testing.T) {
		c := influxdb2.NewClient(url, "wrong")
		defer c.Close()
		err := c.WriteAPIBlocking("org", "bucket").WritePoint(ctx,
			influxdb2.NewPoint("denied", nil, map[string]any{"v": 1.0}, now))
		var herr *influxhttp.Error
		require.ErrorAs(t, err, &herr)
		require.Equal(t, http.StatusUnauthorized, herr.StatusCode)
	})

	// The batching, gzipping writer that agents use: 20 points in batches of 5.
	t.Run("batched gzip", func(t *testing.T) {
		c := influxdb2.NewClientWithOptions(url, token, influxdb2.DefaultOptions().
			SetUseGZip(true).SetBatchSize(5).SetFlushInterval(50).SetMaxRetries(0))
		defer c.Close()
		w := c.WriteAPI("org", "bucket")
		var errs []error
		errDone := make(chan struct{})
		errCh := w.Errors() // read here: Errors races with Close in the library
		go func() {
			for err := range errCh {
				errs = append(errs, err)
			}
			close(errDone)
		}()
		start := now.Add(-20 * time.Second)
		for i := range 20 {
			w.WritePoint(influxdb2.NewPoint("batch_influx", map[string]string{"host": "b"},
				map[string]any{"v": float64(i)}, start.Add(time.Duration(i)*time.Second)))
		}
		w.Flush()
		p := k.waitSeries(t, "batch_influx.v;host=b", wait, func(p []redisstore.Pair) bool { return len(p) == 20 })
		for i, x := range p {
			require.Equal(t, redisstore.Pair{Timestamp: float64(start.Unix() + int64(i)), Value: float64(i)}, x)
		}
		c.Close() // closes the Errors channel
		<-errDone
		require.Empty(t, errs)
	})

	require.Zero(t, k.counter(t, "kale_horizon_rejected_total", "protocol", "influx-v2", "reason", "malformed"))
}
