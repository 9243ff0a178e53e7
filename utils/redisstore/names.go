package redisstore

import (
	"strings"
)

// ReservedName reports whether a metric name would land on one of the store's own keys: a
// namespace's unique-metrics set (the name "unique_metrics" maps onto
// "metrics.unique_metrics"), or anything under Kale's "kale." prefix. Such names are refused
// at ingest, since appending to them fails (WRONGTYPE) or corrupts Kale's bookkeeping, and
// readers answer "no such metric" for them.
func ReservedName(o Options, name string) bool {
	for _, ns := range []string{o.FullNamespace, o.MiniNamespace} {
		key := ns + name
		if key == o.FullNamespace+UniqueSuffix || key == o.MiniNamespace+UniqueSuffix || strings.HasPrefix(key, KalePrefix) {
			return true
		}
	}
	return false
}

// ReservedName is the package function for this store's namespaces.
func (s *Store) ReservedName(name string) bool { return ReservedName(s.opts, name) }

// KalePrefix starts every key of Kale's own state (anomalies, history, collections, ...).
const KalePrefix = "kale."
