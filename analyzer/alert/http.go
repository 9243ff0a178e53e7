package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HTTPTimeout bounds one HTTP delivery (connect, TLS, request and response together).
const HTTPTimeout = 10 * time.Second

// newHTTPClient returns the client of the HTTP channels: bounded in time, no redirects
// (a POST silently turned into a GET would look delivered), and no idle keep-alive
// connections (alerts are rare, and idle connections would outlive the channel).
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 5 * time.Second
	tr.ResponseHeaderTimeout = HTTPTimeout
	return &http.Client{
		Transport:     tr,
		Timeout:       HTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkURL accepts absolute http and https URLs.
func checkURL(option, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("cannot parse %s: not a URL", option) // the URL may hold a secret: not quoted
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cannot use %s %s: want an http:// or https:// URL", option, redactURL(raw))
	}
	return nil
}

// postJSON POSTs body as JSON to rawURL and succeeds on a 2xx answer. Errors name only the
// scheme and host of the URL. 4xx answers other than 408 and 429 wrap ErrPermanent.
func postJSON(ctx context.Context, client *http.Client, rawURL string, body any) error {
	where := redactURL(rawURL)
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("cannot encode the alert for %s: %w: %w", where, ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("cannot build the request to %s: %w", where, ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kale-alert")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, which may hold a secret; keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot post the alert to %s: %w", where, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("cannot post the alert to %s: %w: HTTP %d: %q", where, ErrPermanent, resp.StatusCode, snippet)
	}
	return fmt.Errorf("cannot post the alert to %s: HTTP %d: %q", where, resp.StatusCode, snippet)
}
