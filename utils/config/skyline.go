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
}

// skylineIgnored are Skyline settings accepted in a config file that this build does not use,
// with the reason printed as a warning.
var skylineIgnored = map[string]string{
	"LOG_PATH":              "kale logs to stderr (redirect it or use the systemd journal)",
	"PID_PATH":              "kale runs in the foreground; use your service manager",
	"GRAPHITE_HOST":         "Graphite self-metrics are not sent by this build; scrape /metrics",
	"GRAPH_URL":             "not used by this build",
	"CARBON_PORT":           "Graphite self-metrics are not sent by this build; scrape /metrics",
	"WORKER_PROCESSES":      "kale's writer batches and pipelines; there are no worker processes",
	"CHUNK_SIZE":            "kale batches by time (--flush-interval) and size (--flush-points)",
	"MAX_QUEUE_SIZE":        "kale's queue is sized in datapoints (--queue-size)",
	"ROOMBA_PROCESSES":      "one Roomba pass visits every key once",
	"ANOMALY_DUMP":          "not used by this build",
	"ANALYZER_PROCESSES":    "not used by this build",
	"STALE_PERIOD":          "not used by this build",
	"MIN_TOLERABLE_LENGTH":  "not used by this build",
	"MAX_TOLERABLE_BOREDOM": "not used by this build",
	"BOREDOM_SET_SIZE":      "not used by this build",
	"CANARY_METRIC":         "not used by this build",
	"ALGORITHMS":            "not used by this build",
	"CONSENSUS":             "not used by this build",
	"ENABLE_SECOND_ORDER":   "not used by this build",
	"ENABLE_ALERTS":         "not used by this build",
	"ALERTS":                "not used by this build",
	"SMTP_OPTS":             "not used by this build",
	"HIPCHAT_OPTS":          "not used by this build",
	"PAGERDUTY_OPTS":        "not used by this build",
	"WEBAPP_IP":             "not used by this build",
	"WEBAPP_PORT":           "not used by this build",
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
	out = append(out, "REDIS_SOCKET_PATH", "OCULUS_HOST", "HORIZON_IP", "PICKLE_PORT", "UDP_PORT")
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
	var hostIP, picklePort, udpPort string
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
		case skylineIgnored[k] != "":
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s in %s is accepted but ignored: %s", k, path, skylineIgnored[k]))
		default:
			return fmt.Errorf("unknown setting %q in %s (kale print-default-config lists the options; Skyline names: %s)",
				k, path, strings.Join(SkylineNames(), ", "))
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
