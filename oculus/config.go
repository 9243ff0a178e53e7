package oculus

import (
	"fmt"
	"time"
)

// Sources of the indexed windows (--oculus-source).
const (
	SourceFull = "full" // the last Window of <FullNamespace><name>
	SourceMini = "mini" // the whole <MiniNamespace><name>, as Oculus did
)

// Config is what oculus needs of the configuration; utils/cmd/kale maps the flags onto it.
// The zero value of a field marked "default" takes that default.
type Config struct {
	IndexPath     string        // --oculus-index: bleve index directory; "" keeps the index in memory
	Source        string        // --oculus-source: SourceFull (default) or SourceMini
	Window        time.Duration // --oculus-window: recent window of each full series (default 1h)
	Interval      time.Duration // --oculus-interval: time between syncs (default 2m)
	SearchLength  int           // --search-length: default resampled query length, 0 = native (the index then uses DefaultIndexLength)
	SearchTimeout time.Duration // --search-timeout: longest time one search may take (default 30s)
	SearchMaxWork int           // --search-max-work: most distance-matrix cells of one search; 0 = no limit
	FullNamespace string        // key prefix of the full series (default "metrics.")
	MiniNamespace string        // key prefix of the mini series (default "mini.")
}

// Defaults of the zero Config fields.
const (
	DefaultSeriesWindow  = time.Hour
	DefaultSyncInterval  = 2 * time.Minute
	DefaultSearchTimeout = 30 * time.Second
	defaultFullNS        = "metrics."
	defaultMiniNS        = "mini."
)

// DefaultConfig is the configuration of `kale oculus` without flags, the index in memory.
func DefaultConfig() Config {
	return Config{Source: SourceFull, Window: DefaultSeriesWindow, Interval: DefaultSyncInterval, SearchLength: DefaultIndexLength,
		SearchTimeout: DefaultSearchTimeout, SearchMaxWork: 4_000_000_000, FullNamespace: defaultFullNS, MiniNamespace: defaultMiniNS}
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	if c.Source == "" {
		c.Source = SourceFull
	}
	if c.Window == 0 {
		c.Window = DefaultSeriesWindow
	}
	if c.Interval == 0 {
		c.Interval = DefaultSyncInterval
	}
	if c.SearchTimeout == 0 {
		c.SearchTimeout = DefaultSearchTimeout
	}
	if c.FullNamespace == "" {
		c.FullNamespace = defaultFullNS
	}
	if c.MiniNamespace == "" {
		c.MiniNamespace = defaultMiniNS
	}
	return c
}

// Validate checks c (after the defaults), naming the flag of a bad field.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Source != SourceFull && c.Source != SourceMini:
		return fmt.Errorf("invalid --oculus-source %q: want %s or %s", c.Source, SourceFull, SourceMini)
	case c.Window < 0:
		return fmt.Errorf("invalid --oculus-window %v: negative", c.Window)
	case c.Interval < 0:
		return fmt.Errorf("invalid --oculus-interval %v: negative", c.Interval)
	case c.SearchLength < 0 || c.SearchLength > MaxLength:
		return fmt.Errorf("invalid --search-length %d: want 0 to %d", c.SearchLength, MaxLength)
	case c.SearchTimeout < 0:
		return fmt.Errorf("invalid --search-timeout %v: negative", c.SearchTimeout)
	case c.SearchMaxWork < 0:
		return fmt.Errorf("invalid --search-max-work %d: negative", c.SearchMaxWork)
	}
	return nil
}
