package webapp

import "time"

// Config is the part of Kale's configuration the webapp reads. utils/cmd/kale maps the
// process's flags, environment and file onto it (utils/config validates them there); the flag
// each field comes from is named in its comment.
type Config struct {
	// Addr is where Run listens (--webapp).
	Addr string
	// MaxConns caps the connections served at once (--webapp-max-conns; 0: no cap).
	MaxConns int
	// AllowedHosts are the Host header values answered (--webapp-allowed-hosts; empty: any).
	AllowedHosts []string
	// Token authorises writes as a bearer token (--webapp-token).
	Token string
	// User and Password authorise writes with basic auth (--webapp-user, --webapp-password).
	User, Password string

	// SearchRate and SearchBurst limit searches per client address (--search-rate,
	// --search-burst).
	SearchRate  float64
	SearchBurst int
	// SearchTimeout is the longest a search may take (--search-timeout).
	SearchTimeout time.Duration
	// ShutdownTimeout is how long Serve lets in-flight requests finish (--shutdown-timeout).
	ShutdownTimeout time.Duration

	// GraphURL links a metric to a graph, %s replaced by its name (--graph-url).
	GraphURL string
	// FullNamespace is the key prefix of full-resolution series, reported by /app_settings
	// (--full-namespace).
	FullNamespace string
	// FullDuration is how long series are kept (--full-duration): graphite-web's /render
	// reads that far back by default, as from a whisper file's retention. 0: 24h.
	FullDuration time.Duration
	// Detector, Algorithms and Consensus describe the analyzer's vote for the dashboard and the
	// metric page's detector breakdown (--detector, --algorithms, --consensus).
	Detector   string
	Algorithms []string
	Consensus  int
}
