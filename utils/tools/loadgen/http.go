package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kale-project/kale/horizon/protocol"
)

// link is what a sender writes payloads to: a TCP or UDP connection, or an httpLink.
type link interface {
	Write(b []byte) (int, error)
	Close() error
}

// httpLink posts each payload as one request to horizon's HTTP ingest listener, over one
// keep-alive connection, with the headers the real senders use (Prometheus's remote_write
// v1 headers; a plain text body for Influx). A 429 or 503 (horizon's writer is full) is
// retried after its Retry-After, as Prometheus and Telegraf do, so a datapoint counts as
// sent only once horizon accepted it; any other non-2xx answer ends the run.
type httpLink struct {
	proto   string
	url     string
	client  *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	retries *atomic.Int64
}

// maxRetryAfter caps the wait after a 429 or 503.
const maxRetryAfter = 10 * time.Second

func newHTTPLink(t Target, retries *atomic.Int64) *httpLink {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	return &httpLink{proto: t.Protocol, url: t.URL(), client: &http.Client{Transport: tr, Timeout: time.Minute},
		ctx: ctx, cancel: cancel, retries: retries}
}

func (h *httpLink) Write(b []byte) (int, error) {
	for {
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.url, bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		req.Header.Set("User-Agent", "kale-loadgen")
		if h.proto == protocol.RemoteWrite {
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("Content-Encoding", "snappy")
			req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		} else {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		resp, err := h.client.Do(req)
		if err != nil {
			return 0, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		_, _ = io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
		_ = resp.Body.Close()
		switch code := resp.StatusCode; {
		case code/100 == 2:
			return len(b), nil
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			h.retries.Add(1)
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			t := time.NewTimer(min(wait, maxRetryAfter))
			select {
			case <-h.ctx.Done():
				t.Stop()
				return 0, h.ctx.Err()
			case <-t.C:
			}
		default:
			return 0, fmt.Errorf("POST %s: %s: %s", h.url, resp.Status, strings.TrimSpace(string(msg)))
		}
	}
}

// Close cancels a request in flight (and a Retry-After wait) and closes the connection.
func (h *httpLink) Close() error {
	h.cancel()
	h.client.CloseIdleConnections()
	return nil
}
