package oculus

import (
	"context"

	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/redisstore"
)

// The stores oculus reads and writes, as the small interfaces it needs: it speaks no Redis
// itself. utils/cmd/kale passes the Redis implementations; tests may pass fakes.

// SeriesReader reads the Skyline layout the index is built from; *redisstore.Store
// implements it.
type SeriesReader interface {
	// Members returns the keys of a namespace's unique set (SMEMBERS <ns>unique_metrics).
	Members(ctx context.Context, namespace string) ([]string, error)
	// MemberCount returns the size of a namespace's unique set (SCARD), the poll for new
	// metrics.
	MemberCount(ctx context.Context, namespace string) (int64, error)
	// Raw returns each key's stored bytes, nil for a missing key.
	Raw(ctx context.Context, keys []string) ([][]byte, error)
	// Tails returns each key's length and last n bytes (length 0: missing), the change probe.
	Tails(ctx context.Context, keys []string, n int) ([]redisstore.Tail, error)
}

// CollectionStore keeps the saved collections (kale.collections*);
// *collectionstore.Store implements it. Errors wrap collectionstore.ErrNotFound and
// ErrExists.
type CollectionStore interface {
	collectionReader
	collectionWriter
	collectionIndex
}

type collectionReader interface {
	List(ctx context.Context) ([]Collection, error)
	Get(ctx context.Context, name string) (Collection, error)
}

type collectionWriter interface {
	Create(ctx context.Context, c Collection) error
	Update(ctx context.Context, name string, edit func(*Collection)) (Collection, error)
	Delete(ctx context.Context, name string) error
}

// collectionIndex is what a search needs to name the collections holding its hits.
type collectionIndex interface {
	Version(ctx context.Context) (string, error)
	MemberIndex(ctx context.Context) (map[string][]string, error)
}

// StateStore keeps the import status of the index (kale.oculus.*); *indexstore.Store
// implements it.
type StateStore interface {
	RecordImport(ctx context.Context, im indexstore.Import) error
	LastImport(ctx context.Context) (indexstore.Import, error)
}

// The collection records are the store's.
type (
	Collection = collectionstore.Collection
	Member     = collectionstore.Member
)

// Compile-time checks that the Redis stores implement the interfaces.
var (
	_ SeriesReader    = (*redisstore.Store)(nil)
	_ CollectionStore = (*collectionstore.Store)(nil)
	_ StateStore      = (*indexstore.Store)(nil)
)
