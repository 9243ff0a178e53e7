package oculus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/utils/redisstore"
)

// Collection limits.
const (
	MaxCollectionName    = 100
	MaxCollectionMembers = 100
	MaxDescription       = 10_000 // bytes before sanitising
)

var (
	collectionNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]*$`)
	ugcPolicy        = bluemonday.UGCPolicy()
)

// checkCollectionName trims name and checks it: 1–100 characters, letters, digits, space,
// '.', '_' and '-', starting with a letter or digit.
func checkCollectionName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", badf("collection name is empty")
	case len(name) > MaxCollectionName:
		return "", badf("collection name of %d characters is too long (max %d)", len(name), MaxCollectionName)
	case !collectionNameRE.MatchString(name):
		return "", badf("collection name %q may only hold letters, digits, spaces, '.', '_' and '-', and must start with a letter or digit", name)
	}
	return name, nil
}

// cleanDescription sanitises a description's HTML (scripts, event handlers and unsafe links
// are removed; formatting, links, lists, images and tables are kept, as Oculus' Sanitize
// RELAXED did).
func cleanDescription(d string) (string, error) {
	if len(d) > MaxDescription {
		return "", badf("description of %d bytes is too long (max %d)", len(d), MaxDescription)
	}
	if !utf8.ValidString(d) {
		return "", badf("description is not valid UTF-8")
	}
	return strings.TrimSpace(ugcPolicy.Sanitize(d)), nil
}

// Collections lists every collection, sorted by name.
func (s *Service) Collections(ctx context.Context) ([]Collection, error) {
	return s.colls.List(ctx)
}

// Collection returns one collection, or ErrNotFound.
func (s *Service) Collection(ctx context.Context, name string) (Collection, error) {
	c, err := s.colls.Get(ctx, name)
	return c, collectionError(err, name)
}

// collectionError maps the store's errors onto oculus's sentinels.
func collectionError(err error, name string) error {
	switch {
	case errors.Is(err, collectionstore.ErrNotFound):
		return fmt.Errorf("%w: no collection %q", ErrNotFound, name)
	case errors.Is(err, collectionstore.ErrExists):
		return fmt.Errorf("%w: collection %q", ErrConflict, name)
	}
	return err
}

// SaveCollection saves a new collection of metrics with a frozen copy of each one's recent
// window read from Redis now. ErrConflict if the name is taken, ErrNotFound if a metric does
// not exist, ErrBadQuery for an invalid name, description or member list.
func (s *Service) SaveCollection(ctx context.Context, name, description string, metrics []string) (Collection, error) {
	name, err := checkCollectionName(name)
	if err != nil {
		return Collection{}, err
	}
	desc, err := cleanDescription(description)
	if err != nil {
		return Collection{}, err
	}
	if len(metrics) == 0 {
		return Collection{}, badf("a collection needs at least one metric")
	}
	var members []Member
	seen := map[string]bool{}
	for _, m := range metrics {
		m = strings.TrimSpace(m)
		if m == "" || len(m) > maxMetricBytes {
			return Collection{}, badf("metric name %q is empty or too long", m)
		}
		pts, canonical, err := s.readMember(ctx, m)
		if err != nil {
			return Collection{}, err
		}
		if seen[canonical] {
			continue
		}
		seen[canonical] = true
		members = append(members, Member{Metric: canonical, Points: pts})
	}
	if len(members) > MaxCollectionMembers {
		return Collection{}, badf("a collection holds at most %d metrics, got %d", MaxCollectionMembers, len(members))
	}
	c := Collection{Name: name, Description: desc, Created: time.Now().UTC().Truncate(time.Second), Members: members}
	if err := s.colls.Create(ctx, c); err != nil {
		return Collection{}, collectionError(err, name)
	}
	return c, nil
}

// readMember reads a metric's window with timestamps; name may carry the namespace prefix.
func (s *Service) readMember(ctx context.Context, name string) ([][2]float64, string, error) {
	candidates := []string{name}
	if n, ok := strings.CutPrefix(name, s.ns); ok && n != "" {
		candidates = append(candidates, n)
	}
	for _, n := range candidates {
		b, err := s.readRaw(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		pairs := windowPairs(b, s.window(), nil)
		pts := make([][2]float64, len(pairs))
		for i, p := range pairs {
			pts[i] = [2]float64{p.Timestamp, p.Value}
		}
		return pts, n, nil
	}
	return nil, "", fmt.Errorf("%w: no metric %q", ErrNotFound, name)
}

// UpdateCollection renames a collection (newName "" keeps the name) and replaces its
// description (description "" keeps it). ErrNotFound if it does not exist, ErrConflict if
// newName is taken.
func (s *Service) UpdateCollection(ctx context.Context, name, newName, description string) (Collection, error) {
	if newName != "" {
		var err error
		if newName, err = checkCollectionName(newName); err != nil {
			return Collection{}, err
		}
	}
	var desc string
	if description != "" {
		var err error
		if desc, err = cleanDescription(description); err != nil {
			return Collection{}, err
		}
	}
	c, err := s.colls.Update(ctx, name, func(c *Collection) {
		if newName != "" {
			c.Name = newName
		}
		if description != "" {
			c.Description = desc
		}
	})
	if err != nil {
		target := name
		if errors.Is(err, collectionstore.ErrExists) {
			target = newName
		}
		return Collection{}, collectionError(err, target)
	}
	return c, nil
}

// DeleteCollection removes a collection, or returns ErrNotFound.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	return collectionError(s.colls.Delete(ctx, name), name)
}

// collectionCache maps member metrics to collection names, reloaded when the version key
// changes (one GET per search otherwise).
type collectionCache struct {
	mu       sync.Mutex
	version  string
	loaded   bool
	byMetric map[string][]string
}

// collectionsVersion reads the collections' version key in the background, so that its round
// trip overlaps the search; the answer is read from the returned channel (buffered: it is
// left behind when the search fails).
func (s *Service) collectionsVersion(ctx context.Context) <-chan versionAnswer {
	ch := make(chan versionAnswer, 1)
	go func() {
		v, err := s.colls.Version(ctx)
		ch <- versionAnswer{v, err}
	}()
	return ch
}

type versionAnswer struct {
	version string
	err     error
}

// matchCollections lists the saved collections holding result metrics, given the version
// key's answer (collectionsVersion). It never fails the search: a Redis error yields no
// matches (logged at debug level).
func (s *Service) matchCollections(ctx context.Context, hits []Hit, va versionAnswer) []CollectionMatch {
	out := []CollectionMatch{}
	if len(hits) == 0 {
		return out
	}
	ver, err := va.version, va.err
	if err != nil {
		s.log.Debug("cannot read the collections version", "err", err)
		return out
	}
	c := &s.coll
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.version != ver {
		byMetric, err := s.colls.MemberIndex(ctx)
		if err != nil {
			s.log.Debug("cannot read the collections", "err", err)
			return out
		}
		c.byMetric, c.version, c.loaded = byMetric, ver, true
	}
	idx := map[string]int{}
	for _, h := range hits {
		for _, name := range c.byMetric[h.Metric] {
			i, ok := idx[name]
			if !ok {
				i = len(out)
				idx[name] = i
				out = append(out, CollectionMatch{Collection: name})
			}
			if !slices.Contains(out[i].Members, h.Metric) {
				out[i].Members = append(out[i].Members, h.Metric)
			}
		}
	}
	slices.SortFunc(out, func(a, b CollectionMatch) int { return strings.Compare(a.Collection, b.Collection) })
	return out
}

// windowPairs decodes a stored series into its recent window of points (see windowOf).
func windowPairs(b []byte, window float64, buf []redisstore.Pair) []redisstore.Pair {
	_, pairs, lo := windowBounds(b, window, buf)
	out := make([]redisstore.Pair, 0, len(pairs)-lo)
	for i := lo; i < len(pairs); i++ {
		if i > lo && pairs[i].Timestamp == pairs[i-1].Timestamp {
			continue
		}
		out = append(out, pairs[i])
	}
	return out
}
