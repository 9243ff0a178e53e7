package alert

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rule is one Skyline alert rule: metrics whose name contains Pattern alert through
// Strategy at most once per Expiration.
type Rule struct {
	Pattern    string
	Strategy   string
	Expiration time.Duration
}

// Strategies are the alert channels.
var Strategies = []string{"smtp", "webhook", "slack", "pagerduty", "log"}

// ParseRules parses --alerts' "pattern:strategy:expiration_seconds" entries. The pattern may
// itself contain colons (fields are split from the right).
func ParseRules(entries []string) ([]Rule, error) {
	var out []Rule
	for _, e := range entries {
		i := strings.LastIndexByte(e, ':')
		j := -1
		if i > 0 {
			j = strings.LastIndexByte(e[:i], ':')
		}
		if i < 0 || j < 0 {
			return nil, fmt.Errorf("rule %q is not pattern:strategy:expiration_seconds", e)
		}
		pattern, strategy, exp := e[:j], e[j+1:i], e[i+1:]
		if !slices.Contains(Strategies, strategy) {
			return nil, fmt.Errorf("rule %q: strategy %q is not one of %s", e, strategy, strings.Join(Strategies, ", "))
		}
		secs, err := strconv.Atoi(exp)
		if err != nil || secs < 1 {
			return nil, fmt.Errorf("rule %q: expiration %q is not a positive number of seconds", e, exp)
		}
		out = append(out, Rule{Pattern: pattern, Strategy: strategy, Expiration: time.Duration(secs) * time.Second})
	}
	return out, nil
}

// String formats a rule as it is written in --alerts.
func (r Rule) String() string {
	return r.Pattern + ":" + r.Strategy + ":" + strconv.FormatInt(int64(r.Expiration.Seconds()), 10)
}

// Match returns the rules whose pattern is a substring of metric, in rule order (Skyline's
// "if pattern in metric" test).
func Match(rules []Rule, metric string) []Rule {
	var out []Rule
	for _, r := range rules {
		if strings.Contains(metric, r.Pattern) {
			out = append(out, r)
		}
	}
	return out
}
