// Package indexstore owns the state oculus keeps in Redis about its shape index: the times
// and size of the last import (sync) pass, under kale.oculus.*, which the UI footer and
// other processes read. It replaces Oculus' oculus.last_import_* keys (scripts/import.rb).
// The index itself lives in bleve, not here.
package indexstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys (strings).
const (
	KeyImportStart    = "kale.oculus.last_import_start"    // RFC 3339 time the last sync started
	KeyImportEnd      = "kale.oculus.last_import_end"      // RFC 3339 time it ended
	KeyImportDuration = "kale.oculus.last_import_duration" // its duration in seconds
	KeyDocuments      = "kale.oculus.documents"            // documents in the index after it
)

// Import describes one finished sync.
type Import struct {
	Start, End time.Time
	Seconds    float64 // read from KeyImportDuration; RecordImport writes End − Start
	Documents  int     // written only (LastImport leaves it 0: the index knows its own count)
}

// Store reads and writes the import status. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// RecordImport stores the times and size of a finished sync: one SET per key in a pipeline,
// not MSET, because the keys live in different Redis Cluster slots.
func (s *Store) RecordImport(ctx context.Context, im Import) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, KeyImportStart, im.Start.UTC().Format(time.RFC3339Nano), 0)
		p.Set(ctx, KeyImportEnd, im.End.UTC().Format(time.RFC3339Nano), 0)
		p.Set(ctx, KeyImportDuration, strconv.FormatFloat(im.End.Sub(im.Start).Seconds(), 'f', 3, 64), 0)
		p.Set(ctx, KeyDocuments, strconv.Itoa(im.Documents), 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot record the oculus import status: %w", err)
	}
	return nil
}

// LastImport reads the times of the last recorded sync (whichever process ran it); a missing
// or unreadable key leaves its field zero.
func (s *Store) LastImport(ctx context.Context) (Import, error) {
	// One GET per key in a pipeline (MGET would span Redis Cluster slots).
	keys := []string{KeyImportStart, KeyImportEnd, KeyImportDuration}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Import{}, fmt.Errorf("cannot read the oculus import status: %w", err)
	}
	var im Import
	if v, err := cmds[0].Result(); err == nil {
		im.Start, _ = time.Parse(time.RFC3339Nano, v)
	}
	if v, err := cmds[1].Result(); err == nil {
		im.End, _ = time.Parse(time.RFC3339Nano, v)
	}
	if v, err := cmds[2].Result(); err == nil {
		im.Seconds, _ = strconv.ParseFloat(v, 64)
	}
	return im, nil
}
