package loadgen

import (
	"context"
	"github.com/kale-project/kale/horizon/protocol"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchEncode builds payloads of batch datapoints over 1000 metrics, as a sender does.
func benchEncode(b *testing.B, proto string, batch int) {
	names := Names(DefaultPrefix, 1000)
	c, err := newCodec(proto, names)
	if err != nil {
		b.Fatal(err)
	}
	s := &sender{c: c, batch: batch, metrics: make([]int, len(names)), next: make([]int64, len(names)), count: make([]int, len(names))}
	for i := range s.metrics {
		s.metrics[i] = i
	}
	buf := s.payload(nil, batch, 1_700_000_000)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = s.payload(buf[:0], batch, 1_700_000_000)
	}
	b.ReportMetric(float64(b.N)*float64(batch)/b.Elapsed().Seconds(), "datapoints/s")
}

func BenchmarkEncodePickle(b *testing.B)        { benchEncode(b, protocol.PickleTCP, 500) }
func BenchmarkEncodePickleUDP(b *testing.B)     { benchEncode(b, protocol.PickleUDP, 20) }
func BenchmarkEncodeMsgpack(b *testing.B)       { benchEncode(b, protocol.MsgpackUDP, 20) }
func BenchmarkEncodeMsgpackSingle(b *testing.B) { benchEncode(b, protocol.MsgpackUDP, 1) }
func BenchmarkEncodePlaintext(b *testing.B)     { benchEncode(b, protocol.PlaintextTCP, 500) }
func BenchmarkEncodeRemoteWrite(b *testing.B)   { benchEncode(b, protocol.RemoteWrite, 2000) }
func BenchmarkEncodeInflux(b *testing.B)        { benchEncode(b, protocol.InfluxV2, 2000) }
func BenchmarkEncodeStatsd(b *testing.B)        { benchEncode(b, protocol.StatsdUDP, 56) }

// BenchmarkSend measures the generator's ceiling end to end: a one-second unlimited run per
// protocol into a local sink that reads and discards (TCP, HTTP: an httptest server that
// answers 204) or a UDP socket nobody drains fast (so UDP numbers are the sending side only).
// Run with -benchtime=1x.
func BenchmarkSend(b *testing.B) {
	tcp := startSink(b, false)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer udp.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer web.Close()
	httpAddr := strings.TrimPrefix(web.URL, "http://")
	for _, target := range []string{"pickle://" + tcp.addr, "plaintext://" + tcp.addr, "pickle-udp://" + udp.LocalAddr().String(),
		"msgpack://" + udp.LocalAddr().String(), "plaintext-udp://" + udp.LocalAddr().String(),
		"remote-write://" + httpAddr, "influx://" + httpAddr, "statsd://" + udp.LocalAddr().String()} {
		scheme, _, _ := strings.Cut(target, "://")
		b.Run(scheme, func(b *testing.B) {
			var sent int64
			var elapsed time.Duration
			for b.Loop() {
				rep, err := Run(context.Background(), Options{Target: target, Duration: time.Second, Progress: -1}, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				sent += rep.Sent
				elapsed += rep.Elapsed
			}
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "datapoints/s")
		})
	}
}
