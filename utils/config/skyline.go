package config

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// skylineMapped maps Skyline settings (settings.py names, spec §2.6) onto Kale options. A Kale
// option set by its own name in the same file wins over its Skyline alias.
var skylineMapped = map[string]string{
	"FULL_NAMESPACE":    "full-namespace",
	"MINI_NAMESPACE":    "mini-namespace",
	"FULL_DURATION":     "full-duration",
	"MINI_DURATION":     "mini-duration",
	"MAX_RESOLUTION":    "max-resolution",
	"SKIP_LIST":         "skip-list",
	"ROOMBA_GRACE_TIME": "roomba-grace-time",

	"ANALYZER_PROCESSES":    "analyzer-processes",
	"STALE_PERIOD":          "stale-period",
	"MIN_TOLERABLE_LENGTH":  "min-tolerable-length",
	"MAX_TOLERABLE_BOREDOM": "max-tolerable-boredom",
	"BOREDOM_SET_SIZE":      "boredom-set-size",
	"CANARY_METRIC":         "canary-metric",
	"ALGORITHMS":            "algorithms",
	"CONSENSUS":             "consensus",
	"ENABLE_SECOND_ORDER":   "second-order",
	"ENABLE_ALERTS":         "enable-alerts",
	"GRAPH_URL":             "graph-url",
}

// skylineIgnored are Skyline settings accepted in a config file that this build does not use,
// with the reason printed as a warning.
var skylineIgnored = map[string]string{
	"LOG_PATH":         "kale logs to stderr (redirect it or use the systemd journal)",
	"PID_PATH":         "kale runs in the foreground; use your service manager",
	"WORKER_PROCESSES": "kale's writer batches and pipelines; there are no worker processes",
	"CHUNK_SIZE":       "kale batches by time (--flush-interval) and size (--flush-points)",
	"MAX_QUEUE_SIZE":   "kale's queue is sized in datapoints (--queue-size)",
	"ROOMBA_PROCESSES": "one Roomba pass visits every key once",
	"HIPCHAT_OPTS":     "HipChat is defunct; use the slack or webhook strategy",
	"WEBAPP_IP":        "not used by this build",
	"WEBAPP_PORT":      "not used by this build",
}

// SkylineNames lists every Skyline setting name a config file may use.
func SkylineNames() []string {
	var out []string
	for k := range skylineMapped {
		out = append(out, k)
	}
	for k := range skylineIgnored {
		out = append(out, k)
	}
	out = append(out, "REDIS_SOCKET_PATH", "OCULUS_HOST", "HORIZON_IP", "PICKLE_PORT", "UDP_PORT",
		"ANOMALY_DUMP", "ALERTS", "SMTP_OPTS", "PAGERDUTY_OPTS", "GRAPHITE_HOST", "CARBON_PORT", "WEBAPP_IP", "WEBAPP_PORT")
	sort.Strings(out)
	return out
}

func applySkyline(r *Resolved, m map[string]any, keys []string, path string) error {
	byName := map[string]Option{}
	for _, o := range Options() {
		byName[o.Name] = o
	}
	kaleSet := map[string]bool{} // options the file set by their Kale name: those win
	for name, src := range r.Sources {
		kaleSet[name] = src == FromFile
	}
	set := func(opt, val, key string) error {
		if kaleSet[opt] {
			return nil
		}
		if err := byName[opt].Set(r.Config, val); err != nil {
			return fmt.Errorf("invalid %s in %s: %w", key, path, err)
		}
		r.Sources[opt] = FromFile
		return nil
	}
	var hostIP, picklePort, udpPort, graphiteHost, carbonPort, webIP, webPort string
	for _, k := range keys {
		v := fileString(m[k])
		switch {
		case skylineMapped[k] != "":
			if err := set(skylineMapped[k], v, k); err != nil {
				return err
			}
		case k == "REDIS_SOCKET_PATH":
			if err := set("redis", "unix://"+v, k); err != nil {
				return err
			}
		case k == "OCULUS_HOST":
			if err := set("mini", fmt.Sprint(strings.TrimSpace(v) != ""), k); err != nil {
				return err
			}
		case k == "HORIZON_IP":
			hostIP = v
		case k == "PICKLE_PORT":
			picklePort = v
		case k == "UDP_PORT":
			udpPort = v
		case k == "WEBAPP_IP":
			webIP = v
		case k == "WEBAPP_PORT":
			webPort = v
		case k == "GRAPHITE_HOST":
			graphiteHost = v
		case k == "CARBON_PORT":
			carbonPort = v
		case k == "ANOMALY_DUMP":
			// Skyline's path was relative to its src/ folder; Kale takes it as given.
			if err := set("anomaly-dump", v, k); err != nil {
				return err
			}
		case k == "ALERTS":
			rules, err := skylineAlerts(m[k])
			if err != nil {
				return fmt.Errorf("invalid ALERTS in %s: %w", path, err)
			}
			if err := set("alerts", strings.Join(rules, ","), k); err != nil {
				return err
			}
		case k == "SMTP_OPTS":
			if err := skylineSMTP(m[k], set); err != nil {
				return fmt.Errorf("invalid SMTP_OPTS in %s: %w", path, err)
			}
		case k == "PAGERDUTY_OPTS":
			if opts, ok := m[k].(map[string]any); ok {
				if key, ok := opts["key"]; ok {
					if err := set("alert-pagerduty-key", fmt.Sprint(key), k); err != nil {
						return err
					}
				}
			}
		case skylineIgnored[k] != "":
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s in %s is accepted but ignored: %s", k, path, skylineIgnored[k]))
		default:
			return fmt.Errorf("unknown setting %q in %s (kale print-default-config lists the options; Skyline names: %s)",
				k, path, strings.Join(SkylineNames(), ", "))
		}
	}
	if webIP != "" || webPort != "" {
		host, port, _ := net.SplitHostPort(r.Webapp)
		if webIP != "" {
			host = webIP
		}
		if webPort != "" {
			port = webPort
		}
		if err := set("webapp", net.JoinHostPort(host, port), "WEBAPP_IP/WEBAPP_PORT"); err != nil {
			return err
		}
	}
	// Skyline's example GRAPHITE_HOST ("your_graphite_host.com") is a placeholder: ignore it.
	if graphiteHost != "" && graphiteHost != "your_graphite_host.com" {
		if carbonPort == "" {
			carbonPort = "2003"
		}
		if err := set("graphite-addr", net.JoinHostPort(graphiteHost, carbonPort), "GRAPHITE_HOST"); err != nil {
			return err
		}
	}
	// Ports and the bind address combine: PICKLE_PORT/UDP_PORT replace the port, HORIZON_IP
	// the host of every listener the file did not set by its Kale name.
	withPort := func(opt, port string) error {
		if port == "" {
			return nil
		}
		host, _, err := net.SplitHostPort(byName[opt].Get(r.Config))
		if err != nil {
			host = ""
		}
		return set(opt, net.JoinHostPort(host, port), opt)
	}
	if err := withPort("pickle-tcp", picklePort); err != nil {
		return err
	}
	if err := withPort("msgpack-udp", udpPort); err != nil {
		return err
	}
	if hostIP != "" {
		for _, l := range r.Listeners() {
			if l.Addr == "" {
				continue
			}
			_, port, err := net.SplitHostPort(l.Addr)
			if err != nil {
				continue
			}
			if err := set(l.Option, net.JoinHostPort(hostIP, port), "HORIZON_IP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// skylineAlerts turns ALERTS = [["pattern", "strategy", seconds], ...] into rule strings.
func skylineAlerts(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of [pattern, strategy, expiration_seconds]")
	}
	var out []string
	for _, e := range list {
		r, ok := e.([]any)
		if !ok || len(r) != 3 {
			return nil, fmt.Errorf("rule %v is not [pattern, strategy, expiration_seconds]", e)
		}
		out = append(out, fmt.Sprintf("%v:%v:%v", r[0], r[1], fileString(r[2])))
	}
	return out, nil
}

// skylineSMTP maps SMTP_OPTS = {sender = "...", recipients = {pattern = ["a@x", ...]}}.
func skylineSMTP(v any, set func(opt, val, key string) error) error {
	opts, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want a table with sender and recipients")
	}
	if s, ok := opts["sender"]; ok {
		if err := set("alert-smtp-from", fmt.Sprint(s), "SMTP_OPTS"); err != nil {
			return err
		}
	}
	rec, ok := opts["recipients"].(map[string]any)
	if !ok {
		return nil
	}
	var to []string
	patterns := make([]string, 0, len(rec))
	for p := range rec {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		switch addrs := rec[p].(type) {
		case []any:
			for _, a := range addrs {
				to = append(to, p+"="+fmt.Sprint(a))
			}
		default:
			to = append(to, p+"="+fmt.Sprint(addrs))
		}
	}
	return set("alert-smtp-to", strings.Join(to, ","), "SMTP_OPTS")
}
