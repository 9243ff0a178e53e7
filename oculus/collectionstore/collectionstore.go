// Package collectionstore owns oculus's collections in Redis: the kale.collections hash
// (collection name → Collection JSON) and the kale.collections.version counter that every
// change bumps. It replaces the collection part of Etsy Oculus' ElasticSearch "collections"
// index; oculus validates and builds collections, this package only stores them.
package collectionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys.
const (
	Key        = "kale.collections"         // hash: collection name → Collection JSON
	VersionKey = "kale.collections.version" // counter bumped by every change (cache invalidation)
)

// Errors, checked with errors.Is.
var (
	ErrNotFound = errors.New("no such collection")
	ErrExists   = errors.New("a collection of that name exists")
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
	Description string    `json:"description"` // sanitised HTML (oculus sanitises it)
	Created     time.Time `json:"created"`
	Members     []Member  `json:"members"`
}

// Store reads and writes the collections. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	log *slog.Logger
}

// New returns a store on rdb; log (nil: discard) receives what the store handles itself:
// unreadable entries it skips, a version bump that failed.
func New(rdb redis.UniversalClient, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{rdb: rdb, log: log}
}

// List returns every collection, sorted by name; an entry that cannot be decoded is skipped
// (and logged).
func (s *Store) List(ctx context.Context) ([]Collection, error) {
	all, err := s.rdb.HGetAll(ctx, Key).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", Key, err)
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

// Get returns one collection, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (Collection, error) {
	b, err := s.rdb.HGet(ctx, Key, name).Bytes()
	if errors.Is(err, redis.Nil) {
		return Collection{}, fmt.Errorf("%w: %q", ErrNotFound, name)
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

// Create saves a new collection (HSETNX) and bumps the version; an error wrapping ErrExists
// if the name is taken.
func (s *Store) Create(ctx context.Context, c Collection) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("cannot encode collection %q: %w", c.Name, err)
	}
	ok, err := s.rdb.HSetNX(ctx, Key, c.Name, b).Result()
	if err != nil {
		return fmt.Errorf("cannot save collection %q: %w", c.Name, err)
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrExists, c.Name)
	}
	s.bump(ctx)
	return nil
}

// maxTxRetries bounds the optimistic transaction of Update under concurrent changes.
const maxTxRetries = 10

// Update reads a collection, lets edit change it (a changed Name renames it) and writes it
// back in one optimistic transaction (WATCH kale.collections), then bumps the version. Errors
// wrap ErrNotFound if it does not exist, ErrExists if the new name is taken.
func (s *Store) Update(ctx context.Context, name string, edit func(*Collection)) (Collection, error) {
	var out Collection
	txf := func(tx *redis.Tx) error {
		b, err := tx.HGet(ctx, Key, name).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		if err != nil {
			return fmt.Errorf("cannot read collection %q: %w", name, err)
		}
		var c Collection
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("cannot decode collection %q: %w", name, err)
		}
		edit(&c)
		renamed := c.Name != name
		if renamed {
			exists, err := tx.HExists(ctx, Key, c.Name).Result()
			if err != nil {
				return fmt.Errorf("cannot read collection %q: %w", c.Name, err)
			}
			if exists {
				return fmt.Errorf("%w: %q", ErrExists, c.Name)
			}
		}
		nb, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("cannot encode collection %q: %w", c.Name, err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if renamed {
				p.HDel(ctx, Key, name)
			}
			p.HSet(ctx, Key, c.Name, nb)
			return nil // the version key is in another cluster slot: bumped after EXEC
		})
		out = c
		return err
	}
	for range maxTxRetries {
		err := s.rdb.Watch(ctx, txf, Key)
		if errors.Is(err, redis.TxFailedErr) {
			continue // changed meanwhile: read again
		}
		if err != nil {
			return Collection{}, err
		}
		s.bump(ctx)
		return out, nil
	}
	return Collection{}, fmt.Errorf("cannot update collection %q: too many concurrent changes", name)
}

// Delete removes a collection and bumps the version; an error wrapping ErrNotFound if it does
// not exist.
func (s *Store) Delete(ctx context.Context, name string) error {
	n, err := s.rdb.HDel(ctx, Key, name).Result()
	if err != nil {
		return fmt.Errorf("cannot delete collection %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	s.bump(ctx)
	return nil
}

func (s *Store) bump(ctx context.Context) {
	if err := s.rdb.Incr(ctx, VersionKey).Err(); err != nil {
		s.log.Warn("cannot bump the collections version; searches may report stale collections", "err", err)
	}
}

// Version returns the change counter ("" before the first change): a reader caching
// MemberIndex reloads it when the version moves.
func (s *Store) Version(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, VersionKey).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", VersionKey, err)
	}
	return v, nil
}

// MemberIndex maps each member metric to the names of the collections holding it, decoding
// only the member names (not the frozen points); unreadable entries are skipped.
func (s *Store) MemberIndex(ctx context.Context) (map[string][]string, error) {
	all, err := s.rdb.HGetAll(ctx, Key).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", Key, err)
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
	return byMetric, nil
}
