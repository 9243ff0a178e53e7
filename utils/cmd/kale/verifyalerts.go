package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kale-project/kale/analyzer/alert"
)

// verifyTimeout bounds each test alert sent by verify-alerts --trigger.
const verifyTimeout = 30 * time.Second

// runVerifyAlerts is Skyline's utils/verify_alerts.py: it prints which --alerts rules match
// --metric and the channel each would use, and with --trigger sends a test alert (value 0)
// through each of them, bypassing de-duplication. It fails when a matching rule's channel is
// not configured or, with --trigger, when a test alert could not be sent.
func runVerifyAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var metric string
	var trigger bool
	r, _, err := parseConfig("verify-alerts", args, stderr, nil, func(fs *flag.FlagSet) {
		fs.StringVar(&metric, "metric", "", "metric name without the full namespace, e.g. skyline.horizon.queue_size (required)")
		fs.BoolVar(&trigger, "trigger", false, "send a test alert (value 0) through every matching rule's channel, bypassing de-duplication")
	})
	if err != nil {
		return err
	}
	rules, err := alertRules(r.Config) // validated by parseConfig already; parsed again for use
	if err != nil {
		return err
	}
	if metric == "" {
		return fmt.Errorf("%w: --metric is required", errUsage)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if !r.EnableAlerts {
		fmt.Fprintln(stdout, "note: --enable-alerts is false: the analyzer sends no alerts")
	}
	matched := alert.Match(rules, metric)
	fmt.Fprintf(stdout, "metric %q matches %d of %d alert rules\n", metric, len(matched), len(rules))
	if len(matched) == 0 {
		return nil
	}

	log := newLogger(r.Config, stderr)
	var unconfigured, failed int
	for _, rule := range matched {
		name := rule.String()
		ch, err := alert.NewChannel(rule.Strategy, alertConfig(r.Config), log)
		if err == nil {
			if rc, ok := ch.(alert.RuleChecker); ok {
				err = rc.CheckRule(rule)
			}
		}
		if err != nil {
			unconfigured++
			if errors.Is(err, alert.ErrNotConfigured) {
				fmt.Fprintf(stdout, "  rule %s: channel %s NOT configured: needs %s\n", name, rule.Strategy, alert.NeededOption(rule.Strategy))
			} else {
				fmt.Fprintf(stdout, "  rule %s: channel %s NOT configured: %v\n", name, rule.Strategy, err)
			}
			continue
		}
		fmt.Fprintf(stdout, "  rule %s: channel %s configured: %s\n", name, rule.Strategy, describe(ch, rule))
		if !trigger {
			continue
		}
		a := alert.Anomaly{
			Metric: metric, Value: 0, Timestamp: time.Now().Unix(),
			Triggered: []string{"verify-alerts"}, Explanation: "Test alert sent by kale verify-alerts.",
		}
		sctx, cancel := context.WithTimeout(ctx, verifyTimeout)
		err = ch.Send(sctx, rule, a)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "    test alert FAILED: %v\n", err)
			continue
		}
		fmt.Fprintln(stdout, "    test alert sent")
	}
	var errs []error
	if unconfigured > 0 {
		errs = append(errs, fmt.Errorf("cannot alert through %d of %d matching rules: channel not configured", unconfigured, len(matched)))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("cannot send %d of %d test alerts", failed, len(matched)-unconfigured))
	}
	return errors.Join(errs...)
}

// describe names a channel's destination (never a secret) and, for SMTP, the recipients of
// the rule.
func describe(ch alert.Channel, rule alert.Rule) string {
	d := ch.Name()
	if s, ok := ch.(fmt.Stringer); ok {
		d = s.String()
	}
	if s, ok := ch.(*alert.SMTP); ok {
		d += " to " + strings.Join(s.Recipients(rule.Pattern), ", ")
	}
	return d
}
