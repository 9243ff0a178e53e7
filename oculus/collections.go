package oculus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/redis/go-redis/v9"

	"github.com/kale-project/kale/utils/redisstore"
)

// Redis keys of the collections.
const (
	KeyCollections        = "kale.collections"         // hash: collection name → Collection JSON
	KeyCollectionsVersion = "kale.collections.version" // counter bumped by every change (cache invalidation)
)

// Collection limits.
const (
	MaxCollectionName    = 100
	MaxCollectionMembers = 100
	MaxDescription       = 10_000 // bytes before sanitising
)

// Member is a collection member with the frozen copy of its recent window at save time.
type Member struct {
	Metric string       `json:"metric"`
	Points [][2]float64 `json:"points"` // [timestamp, value] pairs, oldest first
}

// Collection is a saved incident pattern: named metrics with a description and their series
// as they were when it was saved.
type Collection struct {
	Name        string    `json:"name"`
	Description string    `json:"description"` // sanitised HTML (bluemonday UGC policy)
	Created     time.Time `json:"created"`
	Members     []Member  `json:"members"`
}

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
	all, err := s.store.Client().HGetAll(ctx, KeyCollections).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", KeyCollections, err)
	}
	out := make([]Collection, 0, len(all))
	for name, b := range all {
		var c Collection
		if err := json.Unmarshal([]byte(b), &c); err != nil {
			s.log.Warn("skipping an unreadable collection", "collection", name, "err", err)
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Collection) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Collection returns one collection, or ErrNotFound.
func (s *Service) Collection(ctx context.Context, name string) (Collection, error) {
	b, err := s.store.Client().HGet(ctx, KeyCollections, name).Bytes()
	if errors.Is(err, redis.Nil) {
		return Collection{}, fmt.Errorf("%w: no collection %q", ErrNotFound, name)
	}
	if err != nil {
		return Collection{}, fmt.Errorf("cannot read collection %q: %w", name, err)
	}
	var c Collection
	if err := json.Unmarshal(b, &c); err != nil {
		return Collection{}, fmt.Errorf("cannot decode collection %q: %w", name, err)
	}
	return c, nil
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
	b, err := json.Marshal(c)
	if err != nil {
		return Collection{}, fmt.Errorf("cannot encode collection %q: %w", name, err)
	}
	rdb := s.store.Client()
	ok, err := rdb.HSetNX(ctx, KeyCollections, name, b).Result()
	if err != nil {
		return Collection{}, fmt.Errorf("cannot save collection %q: %w", name, err)
	}
	if !ok {
		return Collection{}, fmt.Errorf("%w: collection %q", ErrConflict, name)
	}
	s.bumpCollections(ctx)
	return c, nil
}

// readMember reads a metric's window with timestamps; name may carry the namespace prefix.
func (s *Service) readMember(ctx context.Context, name string) ([][2]float64, string, error) {
	candidates := []string{name}
	if n, ok := strings.CutPrefix(name, s.ns); ok && n != "" {
		candidates = append(candidates, n)
	}
	for _, n := range candidates {
		b, err := s.store.Client().Get(ctx, s.ns+n).Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("cannot read %q: %w", s.ns+n, err)
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
	rdb := s.store.Client()
	var out Collection
	txf := func(tx *redis.Tx) error {
		b, err := tx.HGet(ctx, KeyCollections, name).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("%w: no collection %q", ErrNotFound, name)
		}
		if err != nil {
			return fmt.Errorf("cannot read collection %q: %w", name, err)
		}
		var c Collection
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("cannot decode collection %q: %w", name, err)
		}
		renamed := newName != "" && newName != name
		if renamed {
			exists, err := tx.HExists(ctx, KeyCollections, newName).Result()
			if err != nil {
				return fmt.Errorf("cannot read collection %q: %w", newName, err)
			}
			if exists {
				return fmt.Errorf("%w: collection %q", ErrConflict, newName)
			}
			c.Name = newName
		}
		if description != "" {
			c.Description = desc
		}
		nb, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("cannot encode collection %q: %w", c.Name, err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if renamed {
				p.HDel(ctx, KeyCollections, name)
			}
			p.HSet(ctx, KeyCollections, c.Name, nb)
			return nil // the version key is in another cluster slot: bumped after EXEC
		})
		out = c
		return err
	}
	for range 10 {
		err := rdb.Watch(ctx, txf, KeyCollections)
		if errors.Is(err, redis.TxFailedErr) {
			continue // changed meanwhile: read again
		}
		if err != nil {
			return Collection{}, err
		}
		s.bumpCollections(ctx)
		return out, nil
	}
	return Collection{}, fmt.Errorf("cannot update collection %q: too many concurrent changes", name)
}

// DeleteCollection removes a collection, or returns ErrNotFound.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	n, err := s.store.Client().HDel(ctx, KeyCollections, name).Result()
	if err != nil {
		return fmt.Errorf("cannot delete collection %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no collection %q", ErrNotFound, name)
	}
	s.bumpCollections(ctx)
	return nil
}

func (s *Service) bumpCollections(ctx context.Context) {
	if err := s.store.Client().Incr(ctx, KeyCollectionsVersion).Err(); err != nil {
		s.log.Warn("cannot bump the collections version; searches may report stale collections", "err", err)
	}
}

// collectionCache maps member metrics to collection names, reloaded when the version key
// changes (one GET per search otherwise).
type collectionCache struct {
	mu       sync.Mutex
	version  string
	loaded   bool
	byMetric map[string][]string
}

// matchCollections lists the saved collections holding result metrics. It never fails the
// search: a Redis error yields no matches (logged at debug level).
func (s *Service) matchCollections(ctx context.Context, hits []Hit) []CollectionMatch {
	out := []CollectionMatch{}
	if len(hits) == 0 {
		return out
	}
	rdb := s.store.Client()
	ver, err := rdb.Get(ctx, KeyCollectionsVersion).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		s.log.Debug("cannot read the collections version", "err", err)
		return out
	}
	c := &s.coll
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.version != ver {
		all, err := rdb.HGetAll(ctx, KeyCollections).Result()
		if err != nil {
			s.log.Debug("cannot read the collections", "err", err)
			return out
		}
		byMetric := map[string][]string{}
		for name, b := range all {
			var light struct {
				Members []struct {
					Metric string `json:"metric"`
				} `json:"members"`
			}
			if json.Unmarshal([]byte(b), &light) != nil {
				continue
			}
			for _, m := range light.Members {
				byMetric[m.Metric] = append(byMetric[m.Metric], name)
			}
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
