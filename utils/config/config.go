// Package config is Kale's typed configuration: one struct of every option, its defaults, its
// validation, and the single place that resolves precedence (command-line flag > KALE_* env
// variable > TOML/YAML file > default). It replaces Skyline's settings.py; the Skyline setting
// names are accepted in config files (see skyline.go).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/secret"
)

// Config holds every option. Each field's `kale` tag is its flag name, its config-file key and
// (upper-cased, "-" → "_", prefixed KALE_) its environment variable; `help` documents it.
type Config struct {
	Redis         string `kale:"redis" secret:"redis" help:"Redis URL: redis://host:port/db, rediss://…, unix:///path.sock, redis+cluster://h1:p1,h2:p2 (rediss+cluster:// with TLS) for a Redis Cluster, or 'embedded' (in-process, in-memory only; the default of 'kale all')"`
	LogLevel      string `kale:"log-level" help:"log level: debug, info, warn or error"`
	LogFormat     string `kale:"log-format" help:"log format: text or json"`
	DataDir       string `kale:"data-dir" help:"directory of Kale's files on disk (the shape index); relative file options such as --oculus-index are resolved under it; created if missing"`
	MemoryLimitMB int    `kale:"memory-limit-mb" help:"soft memory limit of the process in MiB (Go's runtime/debug.SetMemoryLimit: the garbage collector works harder near it); the GOMEMLIMIT environment variable, when set, wins; 0 = none. Raise it for more than about 100,000 metrics per process"`

	FullNamespace string        `kale:"full-namespace" help:"key prefix of full-resolution series (Skyline FULL_NAMESPACE)"`
	MiniNamespace string        `kale:"mini-namespace" help:"key prefix of the 1-hour copy read by Oculus (Skyline MINI_NAMESPACE)"`
	FullDuration  time.Duration `kale:"full-duration" help:"time window kept in the full namespace (Skyline FULL_DURATION)"`
	MiniDuration  time.Duration `kale:"mini-duration" help:"time window kept in the mini namespace (Skyline MINI_DURATION)"`
	Mini          bool          `kale:"mini" help:"also write the mini namespace (Skyline did when OCULUS_HOST was set)"`

	PickleTCP    string `kale:"pickle-tcp" help:"carbon pickle TCP listener address (uint32 length-prefixed frames); empty disables"`
	PickleUDP    string `kale:"pickle-udp" help:"pickle UDP listener address (one pickle per datagram); empty disables"`
	MsgpackUDP   string `kale:"msgpack-udp" help:"Skyline msgpack UDP listener address ([name,[ts,value]] or an array of those per datagram); empty disables"`
	PlaintextTCP string `kale:"plaintext-tcp" help:"Graphite plaintext TCP listener address ('name value timestamp' lines); empty disables"`
	PlaintextUDP string `kale:"plaintext-udp" help:"Graphite plaintext UDP listener address; empty disables"`
	MetricsAddr  string `kale:"metrics-addr" help:"address serving Prometheus /metrics for a component without the webapp; empty disables"`

	IngestHTTP  string        `kale:"ingest-http" help:"HTTP ingest listener address: Prometheus remote_write (POST /api/v1/write) and InfluxDB line protocol (POST /write, POST /api/v2/write); empty disables"`
	IngestToken string        `kale:"ingest-token" secret:"value" help:"token every write to --ingest-http must carry (Authorization: Bearer or Token, the basic-auth password, or Influx v1's p=); empty accepts any sender; prefer KALE_INGEST_TOKEN"`
	StatsdUDP   string        `kale:"statsd-udp" help:"StatsD UDP listener address (Etsy statsd's semantics and names: stats.*, stats_counts.*, stats.gauges.*, stats.timers.*, stats.sets.*); empty disables"`
	StatsdFlush time.Duration `kale:"statsd-flush" help:"StatsD flush interval (Etsy flushInterval): the aggregated counters, gauges, timers and sets are written this often, stamped in whole seconds (at least 1s)"`

	MaxResolution          time.Duration `kale:"max-resolution" help:"drop datapoints older than now minus this (Skyline MAX_RESOLUTION)"`
	MaxFuture              time.Duration `kale:"max-future" help:"drop datapoints stamped later than now plus this (counted too_new); the analyzer ignores stored points beyond it too"`
	SkipList               []string      `kale:"skip-list" help:"comma-separated substrings; metrics whose name contains one are dropped (Skyline SKIP_LIST)"`
	MaxNameLength          int           `kale:"max-name-length" help:"longest accepted metric name in bytes"`
	MaxFrame               int           `kale:"max-frame" help:"largest accepted pickle frame or datagram in bytes (larger frames close the TCP connection)"`
	MaxItems               int           `kale:"max-items" help:"most datapoints accepted in one pickle frame or msgpack datagram"`
	MaxConns               int           `kale:"max-conns" help:"most concurrent TCP connections per listener; at the cap the connection idle longest is closed (counted) to admit a newcomer"`
	TCPIdleTimeout         time.Duration `kale:"tcp-idle-timeout" help:"close a TCP sender connection that sends nothing for this long"`
	MaxInflightBytes       int           `kale:"max-inflight-bytes" help:"bytes of frames being received or decoded at once, across every TCP connection; a frame that cannot get budget waits (stalled partial frames are closed first) or is refused and counted"`
	MaxMetrics             int           `kale:"max-metrics" help:"most distinct metric names horizon accepts; points of further new names are refused and counted (too_many_metrics); 0 = no ceiling"`
	MaxNewMetricsPerMinute int           `kale:"max-new-metrics-per-minute" help:"most new metric names accepted per minute; points of further new names are refused and counted (too_many_metrics); 0 = no limit"`
	ShutdownTimeout        time.Duration `kale:"shutdown-timeout" help:"longest a stop waits to deliver buffered datapoints to Redis (and for the webapp to finish requests)"`
	QueueSize              int           `kale:"queue-size" help:"datapoints buffered between listeners and Redis; when full, TCP readers wait and UDP datagrams are dropped and counted"`
	FlushInterval          time.Duration `kale:"flush-interval" help:"longest time a datapoint waits before it is written to Redis (at most 1s)"`
	FlushPoints            int           `kale:"flush-points" help:"write to Redis as soon as this many datapoints are buffered"`
	UDPReadBuffer          int           `kale:"udp-read-buffer" help:"kernel receive buffer requested for UDP sockets, in bytes"`

	Roomba          bool          `kale:"roomba" help:"run Roomba: trim, sort and dedupe series, purge metrics that stopped reporting"`
	RoombaInterval  time.Duration `kale:"roomba-interval" help:"pause between Roomba passes"`
	RoombaGraceTime time.Duration `kale:"roomba-grace-time" help:"extra time kept beyond each window before trimming (Skyline ROOMBA_GRACE_TIME)"`

	Detector       string  `kale:"detector" help:"analyzer detector: kale (streaming, Kale's own; state kept per metric) or skyline (Etsy's nine-detector ensemble)"`
	KaleThreshold  float64 `kale:"kale-threshold" help:"kale detector score in (0,1] that makes an anomaly (0.63: the threshold NAB's profiles pick)"`
	KaleColdRows   int     `kale:"kale-cold-rows" help:"rows a kale detector with no saved state learns from in its first cycle (the newest ones; the rest of the stored series is learnt between later cycles); 0 = every stored row"`
	KaleColdBudget int     `kale:"kale-cold-budget" help:"stored rows in all, per cycle, that kale detectors with no saved state may learn from in full before --kale-cold-rows applies (a small deployment learns its whole history in the first cycle and reports what is anomalous now at once); 0 = none"`

	AnalyzerProcesses   int           `kale:"analyzer-processes" help:"analysis workers (goroutines); 0 = one per CPU core (Skyline ANALYZER_PROCESSES)"`
	AnalyzerInterval    time.Duration `kale:"analyzer-interval" help:"fixed time between cycle starts; 0 = Skyline's rule: back to back, sleeping 10s after a cycle shorter than 5s"`
	Algorithms          []string      `kale:"algorithms" help:"detectors of the Skyline ensemble, in voting order (Skyline ALGORITHMS)"`
	Consensus           int           `kale:"consensus" help:"votes needed for an anomaly (Skyline CONSENSUS)"`
	StalePeriod         time.Duration `kale:"stale-period" help:"skip a series whose last point is older than this (Skyline STALE_PERIOD)"`
	MinTolerableLength  int           `kale:"min-tolerable-length" help:"skip a series with fewer points (Skyline MIN_TOLERABLE_LENGTH)"`
	MaxTolerableBoredom int           `kale:"max-tolerable-boredom" help:"points inspected by the boredom check (Skyline MAX_TOLERABLE_BOREDOM)"`
	BoredomSetSize      int           `kale:"boredom-set-size" help:"a series whose last max-tolerable-boredom points hold at most this many distinct values is boring (Skyline BOREDOM_SET_SIZE)"`
	RejectIncomplete    bool          `kale:"reject-incomplete" help:"skip series spanning less than full-duration (Skyline's historical Incomplete check)"`
	SecondOrder         bool          `kale:"second-order" help:"only report metrics whose anomalies are themselves anomalous (Skyline ENABLE_SECOND_ORDER)"`
	SkylineCompat       []string      `kale:"skyline-compat" help:"reproduce Etsy defects: any of mad-none-votes, tail-avg-int-div, boring-equality, histogram-edges, one-sided-grubbs, algorithm-error-vetoes, or all"`
	CanaryMetric        string        `kale:"canary-metric" help:"metric whose time span reports the data duration (Skyline CANARY_METRIC)"`
	AnomalyDump         string        `kale:"anomaly-dump" help:"also write Skyline's anomalies.json (handle_data(...)) to this file each cycle; empty: only served by the webapp"`
	AnomalyHistory      time.Duration `kale:"anomaly-history" help:"how long anomaly records are kept in Redis"`
	AnalyzerID          string        `kale:"analyzer-id" help:"this analyzer's id among those sharing cycles (letters, digits, '.', '_', ':', '-'); empty: hostname-pid-random"`
	AnalyzerLease       time.Duration `kale:"analyzer-lease" help:"how long an analyzer's membership outlives its last heartbeat (renewed every lease/3); a crashed analyzer's metrics move to the others within a cycle after it expires"`

	EnableAlerts      bool     `kale:"enable-alerts" help:"send alerts for anomalies matching --alerts (Skyline ENABLE_ALERTS)"`
	Alerts            []string `kale:"alerts" help:"alert rules pattern:strategy:expiration_seconds (Skyline ALERTS); strategies: smtp, webhook, slack, pagerduty, log"`
	AlertWebhookURL   string   `kale:"alert-webhook-url" secret:"url" help:"URL receiving the webhook strategy's JSON (Alertmanager-compatible)"`
	AlertSlackURL     string   `kale:"alert-slack-url" secret:"url" help:"Slack incoming-webhook URL for the slack strategy"`
	AlertSMTPAddr     string   `kale:"alert-smtp-addr" help:"SMTP server host:port for the smtp strategy"`
	AlertSMTPFrom     string   `kale:"alert-smtp-from" help:"sender address of alert mail (Skyline SMTP_OPTS sender)"`
	AlertSMTPTo       []string `kale:"alert-smtp-to" help:"recipients: pattern=address entries (Skyline SMTP_OPTS recipients); an address without pattern= gets every smtp alert"`
	AlertSMTPUser     string   `kale:"alert-smtp-user" help:"SMTP user name (PLAIN auth; needs TLS)"`
	AlertSMTPPassword string   `kale:"alert-smtp-password" secret:"value" help:"SMTP password; prefer the environment variable KALE_ALERT_SMTP_PASSWORD"`
	AlertSMTPTLS      string   `kale:"alert-smtp-tls" help:"SMTP transport security: starttls, tls or none"`
	AlertPagerDutyKey string   `kale:"alert-pagerduty-key" secret:"value" help:"PagerDuty Events v2 routing key for the pagerduty strategy"`
	AlertPagerDutyURL string   `kale:"alert-pagerduty-url" help:"PagerDuty Events v2 endpoint"`
	GraphURL          string   `kale:"graph-url" help:"link to a graph of a metric in alerts; %s is replaced by the metric name (Skyline GRAPH_URL)"`
	GraphiteAddr      string   `kale:"graphite-addr" help:"host:port receiving Graphite plaintext self-metrics (skyline.analyzer.run_time, ...); empty disables (Skyline GRAPHITE_HOST:CARBON_PORT)"`

	OculusIndex    string        `kale:"oculus-index" help:"directory of the bleve shape index (created if missing; survives restarts), under --data-dir unless absolute; empty keeps the index in memory"`
	OculusSource   string        `kale:"oculus-source" help:"what each metric's shape is taken from: full (the last --oculus-window of metrics.<name>) or mini (mini.<name>, as Oculus did)"`
	OculusWindow   time.Duration `kale:"oculus-window" help:"recent window of each series that is indexed and searched"`
	OculusInterval time.Duration `kale:"oculus-interval" help:"how often the index is brought up to date with Redis (only changed metrics are re-indexed)"`
	SearchLength   int           `kale:"search-length" help:"default resampled length of indexed and searched series (0 = native length)"`
	SearchTimeout  time.Duration `kale:"search-timeout" help:"longest time one search may take"`
	SearchMaxWork  int           `kale:"search-max-work" help:"most distance-matrix cells one search may compute (query length x band width x candidates); larger queries are refused with 400 before they start"`

	Webapp             string   `kale:"webapp" help:"address of the web UI and HTTP API; empty disables"`
	WebappToken        string   `kale:"webapp-token" secret:"value" help:"bearer token that authorises state-changing requests (feedback, collections, admin); prefer KALE_WEBAPP_TOKEN"`
	WebappUser         string   `kale:"webapp-user" help:"basic-auth user that authorises state-changing requests"`
	WebappPassword     string   `kale:"webapp-password" secret:"value" help:"basic-auth password for --webapp-user; prefer KALE_WEBAPP_PASSWORD"`
	SearchRate         float64  `kale:"search-rate" help:"search requests per second allowed per client address"`
	SearchBurst        int      `kale:"search-burst" help:"search requests a client may send at once before --search-rate applies"`
	WebappMaxConns     int      `kale:"webapp-max-conns" help:"most concurrent connections to the webapp; further ones wait in the kernel's backlog"`
	WebappAllowedHosts []string `kale:"webapp-allowed-hosts" help:"comma-separated Host header values the webapp answers (DNS-rebinding guard, e.g. kale.example.com,127.0.0.1:1500); empty answers any"`
}

// DefaultConfig returns the defaults: Skyline's settings where Skyline had one, listeners on
// the loopback interface (set e.g. --pickle-tcp :2024 or HORIZON_IP to accept remote senders).
func DefaultConfig() *Config {
	return &Config{
		Redis:                  "redis://127.0.0.1:6379/0",
		LogLevel:               "info",
		LogFormat:              "text",
		DataDir:                DefaultDataDir(),
		FullNamespace:          "metrics.",
		MiniNamespace:          "mini.",
		FullDuration:           86400 * time.Second,
		MiniDuration:           3600 * time.Second,
		PickleTCP:              "127.0.0.1:2024",
		PickleUDP:              "127.0.0.1:2024",
		MsgpackUDP:             "127.0.0.1:2025",
		PlaintextTCP:           "127.0.0.1:2003",
		PlaintextUDP:           "127.0.0.1:2003",
		IngestHTTP:             "127.0.0.1:2006",
		StatsdUDP:              "127.0.0.1:8125",
		StatsdFlush:            10 * time.Second,
		MaxResolution:          1000 * time.Second,
		SkipList:               []string{"example.statsd.metric", "another.example.metric"},
		MaxNameLength:          255,
		MaxFrame:               4 << 20,
		MaxItems:               100_000,
		MaxConns:               4096,
		TCPIdleTimeout:         2 * time.Minute,
		MaxInflightBytes:       32 << 20,
		MaxFuture:              10 * time.Minute,
		MaxMetrics:             0,
		MaxNewMetricsPerMinute: 100_000,
		ShutdownTimeout:        10 * time.Second,
		QueueSize:              1_000_000,
		FlushInterval:          250 * time.Millisecond,
		FlushPoints:            100_000,
		UDPReadBuffer:          8 << 20,
		Roomba:                 true,
		RoombaInterval:         30 * time.Second,
		RoombaGraceTime:        600 * time.Second,

		Detector:         "kale",
		KaleThreshold:    0.63,
		KaleColdRows:     360,
		KaleColdBudget:   10_000_000,
		AnalyzerInterval: 0,
		Algorithms: []string{"first_hour_average", "mean_subtraction_cumulation", "stddev_from_average",
			"stddev_from_moving_average", "least_squares", "grubbs", "histogram_bins",
			"median_absolute_deviation", "ks_test"},
		Consensus:           6,
		StalePeriod:         500 * time.Second,
		MinTolerableLength:  1,
		MaxTolerableBoredom: 100,
		BoredomSetSize:      1,
		CanaryMetric:        "statsd.numStats",
		AnomalyHistory:      30 * 24 * time.Hour,
		AnalyzerLease:       15 * time.Second,
		EnableAlerts:        true,
		AlertSMTPAddr:       "127.0.0.1:25",
		AlertSMTPFrom:       "kale-alerts@localhost",
		AlertSMTPTLS:        "starttls",
		AlertPagerDutyURL:   "https://events.pagerduty.com/v2/enqueue",

		OculusIndex:    "oculus.bleve",
		OculusSource:   "full",
		OculusWindow:   time.Hour,
		OculusInterval: 2 * time.Minute,
		SearchLength:   256,
		SearchTimeout:  30 * time.Second,
		SearchMaxWork:  4_000_000_000,

		Webapp:         "127.0.0.1:1500",
		SearchRate:     10,
		SearchBurst:    20,
		WebappMaxConns: 512,

		MemoryLimitMB: 1200,
	}
}

// DefaultDataDir is the per-user data directory: $XDG_DATA_HOME/kale, else
// ~/.local/share/kale, else ./data when there is no home directory.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kale")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "share", "kale")
	}
	return "data"
}

// DataPath resolves a file option under --data-dir: absolute paths and the empty string (in
// memory) are kept as they are.
func (c *Config) DataPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}

// Validate reports the first invalid option, naming it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid --%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if err := ValidateRedisURL(c.Redis); err != nil {
		bad("redis", "%v", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log-format", "%q is not one of text, json", c.LogFormat)
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	if c.FullNamespace == "" {
		bad("full-namespace", "must not be empty")
	}
	if c.Mini && (c.MiniNamespace == "" || c.MiniNamespace == c.FullNamespace) {
		bad("mini-namespace", "must be non-empty and differ from --full-namespace")
	}
	if c.FullDuration < time.Minute {
		bad("full-duration", "%v is shorter than 1m", c.FullDuration)
	}
	if c.MiniDuration < time.Minute || c.MiniDuration > c.FullDuration {
		bad("mini-duration", "%v must be between 1m and --full-duration", c.MiniDuration)
	}
	for _, a := range []struct{ name, addr string }{
		{"pickle-tcp", c.PickleTCP}, {"pickle-udp", c.PickleUDP}, {"msgpack-udp", c.MsgpackUDP},
		{"plaintext-tcp", c.PlaintextTCP}, {"plaintext-udp", c.PlaintextUDP}, {"metrics-addr", c.MetricsAddr},
		{"ingest-http", c.IngestHTTP}, {"statsd-udp", c.StatsdUDP},
	} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad(a.name, "%q is not host:port: %v", a.addr, err)
		}
	}
	if c.StatsdFlush < time.Second {
		bad("statsd-flush", "%v is shorter than 1s (StatsD points are stamped in whole seconds)", c.StatsdFlush)
	}
	if c.MaxResolution <= 0 {
		bad("max-resolution", "must be positive, got %v", c.MaxResolution)
	}
	positive := []struct {
		name string
		v    int
	}{
		{"max-name-length", c.MaxNameLength}, {"max-frame", c.MaxFrame}, {"max-items", c.MaxItems},
		{"max-conns", c.MaxConns}, {"queue-size", c.QueueSize}, {"flush-points", c.FlushPoints},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.name, "must be positive, got %d", p.v)
		}
	}
	if c.MaxMetrics < 0 || c.MaxNewMetricsPerMinute < 0 || c.WebappMaxConns < 0 {
		bad("max-metrics", "--max-metrics, --max-new-metrics-per-minute and --webapp-max-conns must not be negative")
	}
	if c.MaxFuture < time.Second {
		bad("max-future", "%v is shorter than 1s", c.MaxFuture)
	}
	if c.TCPIdleTimeout < time.Second {
		bad("tcp-idle-timeout", "%v is shorter than 1s", c.TCPIdleTimeout)
	}
	if c.MaxInflightBytes < c.MaxFrame {
		bad("max-inflight-bytes", "%d is smaller than --max-frame %d (one frame must fit)", c.MaxInflightBytes, c.MaxFrame)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown-timeout", "must not be negative")
	}
	if c.SearchMaxWork < 1_000_000 {
		bad("search-max-work", "%d is below 1000000", c.SearchMaxWork)
	}
	if c.MaxFrame > 1<<30 {
		bad("max-frame", "%d exceeds 1 GiB", c.MaxFrame)
	}
	if c.FlushInterval <= 0 || c.FlushInterval > time.Second {
		bad("flush-interval", "%v must be in (0, 1s]", c.FlushInterval)
	}
	if c.UDPReadBuffer < 0 {
		bad("udp-read-buffer", "must not be negative")
	}
	if c.RoombaInterval <= 0 {
		bad("roomba-interval", "must be positive, got %v", c.RoombaInterval)
	}
	if c.RoombaGraceTime < 0 {
		bad("roomba-grace-time", "must not be negative")
	}
	switch c.Detector {
	case "kale", "skyline":
	default:
		bad("detector", "%q is not one of kale, skyline", c.Detector)
	}
	if !(c.KaleThreshold > 0 && c.KaleThreshold <= 1) {
		bad("kale-threshold", "%v must be in (0, 1]", c.KaleThreshold)
	}
	if c.KaleColdRows < 0 {
		bad("kale-cold-rows", "must not be negative, got %d", c.KaleColdRows)
	}
	if c.MemoryLimitMB < 0 {
		bad("memory-limit-mb", "must not be negative, got %d", c.MemoryLimitMB)
	}
	if c.KaleColdBudget < 0 {
		bad("kale-cold-budget", "must not be negative, got %d", c.KaleColdBudget)
	}
	if c.AnalyzerProcesses < 0 {
		bad("analyzer-processes", "must not be negative")
	}
	if c.AnalyzerInterval < 0 {
		bad("analyzer-interval", "must not be negative")
	}
	if len(c.Algorithms) == 0 {
		bad("algorithms", "must name at least one detector")
	}
	if c.Consensus < 1 || c.Consensus > len(c.Algorithms) {
		bad("consensus", "%d must be between 1 and the number of --algorithms (%d)", c.Consensus, len(c.Algorithms))
	}
	if c.StalePeriod <= 0 {
		bad("stale-period", "must be positive")
	}
	if c.MinTolerableLength < 0 || c.MaxTolerableBoredom < 1 || c.BoredomSetSize < 0 {
		bad("min-tolerable-length", "min-tolerable-length >= 0, max-tolerable-boredom >= 1 and boredom-set-size >= 0 are required")
	}
	for _, s := range c.SkylineCompat {
		if err := algorithms.ValidateCompat(s); err != nil {
			bad("skyline-compat", "%v", err)
		}
	}
	if c.AnomalyHistory < time.Minute {
		bad("anomaly-history", "%v is shorter than 1m", c.AnomalyHistory)
	}
	if len(c.AnalyzerID) > 128 || strings.IndexFunc(c.AnalyzerID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
	}) >= 0 {
		bad("analyzer-id", "%q must be at most 128 letters, digits, '.', '_', ':' or '-'", c.AnalyzerID)
	}
	if c.AnalyzerLease < 3*time.Second || c.AnalyzerLease > 10*time.Minute {
		bad("analyzer-lease", "%v must be between 3s and 10m", c.AnalyzerLease)
	}
	switch c.AlertSMTPTLS {
	case "starttls", "tls", "none":
	default:
		bad("alert-smtp-tls", "%q is not one of starttls, tls, none", c.AlertSMTPTLS)
	}
	switch c.OculusSource {
	case "full", "mini":
	default:
		bad("oculus-source", "%q is not one of full, mini", c.OculusSource)
	}
	if c.OculusSource == "mini" && !c.Mini {
		bad("oculus-source", "mini needs --mini (horizon must write the mini namespace)")
	}
	if c.OculusWindow < time.Minute {
		bad("oculus-window", "%v is shorter than 1m", c.OculusWindow)
	}
	if c.OculusInterval < time.Second {
		bad("oculus-interval", "%v is shorter than 1s", c.OculusInterval)
	}
	if c.SearchLength < 0 || c.SearchLength > 100_000 {
		bad("search-length", "%d must be between 0 and 100000", c.SearchLength)
	}
	if c.SearchTimeout <= 0 {
		bad("search-timeout", "must be positive")
	}
	if c.Webapp != "" {
		if _, _, err := net.SplitHostPort(c.Webapp); err != nil {
			bad("webapp", "%q is not host:port: %v", c.Webapp, err)
		}
	}
	if (c.WebappUser == "") != (c.WebappPassword == "") {
		bad("webapp-user", "--webapp-user and --webapp-password go together")
	}
	if c.SearchRate <= 0 || c.SearchBurst < 1 {
		bad("search-rate", "--search-rate must be positive and --search-burst at least 1")
	}
	if c.GraphiteAddr != "" {
		if _, _, err := net.SplitHostPort(c.GraphiteAddr); err != nil {
			bad("graphite-addr", "%q is not host:port: %v", c.GraphiteAddr, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateRedisURL accepts "embedded" and the URL forms go-redis understands, plus
// redis+cluster://h1:p1,h2:p2,… (rediss+cluster:// with TLS) for a Redis Cluster; the
// cluster form is parsed in full by redisstore.ParseClusterURL.
func ValidateRedisURL(s string) error {
	if s == "embedded" {
		return nil
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok && (scheme == "redis+cluster" || scheme == "rediss+cluster") {
		rest, _, _ = strings.Cut(rest, "?")
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if db := rest[i+1:]; db != "" && db != "0" {
				return fmt.Errorf("%s://…: a Redis Cluster has only database 0, not %q", scheme, db)
			}
			rest = rest[:i]
		}
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			rest = rest[i+1:]
		}
		nodes := 0
		for _, h := range strings.Split(rest, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
				return fmt.Errorf("%s://…: node %q is not host:port", scheme, h)
			}
			nodes++
		}
		if nodes == 0 {
			return fmt.Errorf("%s://…: no node given (%s://host1:port1,host2:port2)", scheme, scheme)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		// *url.Error repeats the URL, password included: keep only what it says of the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot parse %q: %w", secret.Userinfo(s), err)
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		return nil
	}
	return fmt.Errorf("%q: scheme must be redis://, rediss://, unix://, redis+cluster://h1:p1,h2:p2 or the word embedded", secret.Userinfo(s))
}

// Listener names one ingest listener's option.
type Listener struct {
	Option string // flag name, e.g. "pickle-tcp"
	Addr   string
}

// Listeners returns the five listener options with their addresses, in a fixed order.
func (c *Config) Listeners() []Listener {
	return []Listener{
		{"pickle-tcp", c.PickleTCP}, {"pickle-udp", c.PickleUDP}, {"msgpack-udp", c.MsgpackUDP},
		{"plaintext-tcp", c.PlaintextTCP}, {"plaintext-udp", c.PlaintextUDP},
	}
}

// SplitList splits a comma-separated list, trimming blanks and dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Workers is the number of analysis workers: --analyzer-processes, or one per CPU core.
func (c *Config) Workers() int {
	if c.AnalyzerProcesses > 0 {
		return c.AnalyzerProcesses
	}
	return runtime.NumCPU()
}
