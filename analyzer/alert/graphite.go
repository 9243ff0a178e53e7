package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The analyzer's Graphite self-metrics, with Skyline's names.
const (
	MetricRunTime       = "skyline.analyzer.run_time"       // cycle seconds, written with two decimals ("%.2f")
	MetricTotalAnalyzed = "skyline.analyzer.total_analyzed" // metrics analyzed: keys minus skipped
	MetricDuration      = "skyline.analyzer.duration"       // hours of data in the canary metric
	MetricProjected     = "skyline.analyzer.projected"      // 24 * run_time / duration
)

// DefaultGraphiteTimeout bounds one Graphite send when Graphite.Timeout is zero.
const DefaultGraphiteTimeout = 2 * time.Second

// Graphite sends self-metrics in the plaintext protocol ("name value timestamp\n") over TCP
// to --graphite-addr. Unlike Skyline, whose analyzer thread died on an unreachable Graphite,
// a failure is only returned (for the caller to count), and Send never blocks longer than
// Timeout. All metrics of one call share one connection. It is safe for concurrent use.
type Graphite struct {
	Addr    string        // host:port of Graphite's plaintext listener; empty disables Send
	Timeout time.Duration // bound on connect and write together; 0 means DefaultGraphiteTimeout
}

// Send writes metrics, sorted by name, with timestamp ts (Unix seconds). Names with
// whitespace or control characters and non-finite values cannot be written: they are left
// out and reported in the error, after the others are sent.
func (g *Graphite) Send(ctx context.Context, metrics map[string]float64, ts time.Time) error {
	if g.Addr == "" || len(metrics) == 0 {
		return nil
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGraphiteTimeout
	}
	var buf bytes.Buffer
	var skipped []string
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	slices.Sort(names)
	unixTS := strconv.FormatInt(ts.Unix(), 10)
	for _, n := range names {
		v := metrics[n]
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) ||
			math.IsNaN(v) || math.IsInf(v, 0) {
			skipped = append(skipped, n)
			continue
		}
		val := formatValue(v)
		if n == MetricRunTime {
			val = strconv.FormatFloat(v, 'f', 2, 64)
		}
		buf.WriteString(n + " " + val + " " + unixTS + "\n")
	}
	var errs []error
	if buf.Len() > 0 {
		if err := g.write(ctx, timeout, buf.Bytes()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(skipped) > 0 {
		errs = append(errs, fmt.Errorf("cannot send Graphite metrics %q: bad name or non-finite value", skipped))
	}
	return errors.Join(errs...)
}

func (g *Graphite) write(ctx context.Context, timeout time.Duration, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", g.Addr)
	if err != nil {
		return fmt.Errorf("cannot connect to Graphite %s: %w", g.Addr, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetWriteDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("cannot send metrics to Graphite %s: %w", g.Addr, err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("cannot send metrics to Graphite %s: %w", g.Addr, err)
	}
	return nil
}
