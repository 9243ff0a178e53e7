package webapp

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// nameCache keeps the sorted metric names for /api/v1/metrics and the autocomplete, so a
// keystroke costs a binary search (or one pass over the names for ?q=), not an SMEMBERS of
// 100,000 keys. A list younger than fresh is used as it is; an older one is checked with one
// cheap count (SCARD) and read again when the count changed, or when it is older than ttl (a
// name removed and another added between two checks). A new name is thus listed within fresh.
type nameCache struct {
	list  func(ctx context.Context) ([]string, error) // every name, in any order
	count func(ctx context.Context) (int64, error)    // how many names list would return
	fresh time.Duration
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	names   []string // sorted
	lower   []string // names[i] in lower case (the same string when it has no upper case)
	fetched time.Time
	checked time.Time
}

// Defaults of nameCache.fresh and nameCache.ttl.
const (
	namesFresh = 2 * time.Second
	namesTTL   = 30 * time.Second
)

// get returns the sorted names and their lower-case forms. While Redis is away it returns the
// last list it has, if any.
func (n *nameCache) get(ctx context.Context) (names, lower []string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if n.names != nil && now.Sub(n.checked) < n.fresh {
		return n.names, n.lower, nil
	}
	if n.names != nil && now.Sub(n.fetched) < n.ttl {
		if c, err := n.count(ctx); err == nil && c == int64(len(n.names)) {
			n.checked = now
			return n.names, n.lower, nil
		}
	}
	names, err = n.list(ctx)
	if err != nil {
		if n.names != nil {
			return n.names, n.lower, nil // stale beats nothing while Redis is away
		}
		return nil, nil, err
	}
	slices.Sort(names)
	lower = make([]string, len(names))
	for i, s := range names {
		lower[i] = strings.ToLower(s) // no allocation for a name without upper case
	}
	n.names, n.lower, n.fetched, n.checked = names, lower, now, now
	return names, lower, nil
}

// match returns up to limit of the names that start with prefix and contain q (ignoring
// case; any name when q is empty), sorted, those in which q directly follows the prefix
// first; total counts every match. lower holds the names in lower case. A prefix alone costs
// two binary searches; q costs one pass over the names that have the prefix.
func match(names, lower []string, prefix, q string, limit int) (out []string, total int) {
	lo := sort.SearchStrings(names, prefix)
	hi := lo + sort.Search(len(names)-lo, func(i int) bool { return !strings.HasPrefix(names[lo+i], prefix) })
	if q == "" {
		return slices.Clone(names[lo:min(hi, lo+limit)]), hi - lo
	}
	lq := strings.ToLower(q)
	lead := strings.ToLower(prefix) + lq
	var first, rest []string
	for i := lo; i < hi; i++ {
		switch l := lower[i]; {
		case strings.HasPrefix(l, lead):
			total++
			if len(first) < limit {
				first = append(first, names[i])
			}
		case strings.Contains(l, lq):
			total++
			if len(rest) < limit {
				rest = append(rest, names[i])
			}
		}
	}
	out = append(make([]string, 0, min(limit, len(first)+len(rest))), first...)
	return append(out, rest[:min(len(rest), limit-len(out))]...), total
}

// metricNames reads every metric name of the full namespace (nameCache.list).
func (s *Server) metricNames(ctx context.Context) ([]string, error) {
	ns := s.store.Options().FullNamespace
	keys, err := s.store.Members(ctx, ns)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, ns)
	}
	return keys, nil
}
