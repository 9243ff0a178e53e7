package webapp

import "github.com/kale-project/kale/oculus"

// The search and collection data types are oculus's exported ones; the interfaces that use
// them (Searcher, CollectionStore, IndexStatuser) are declared by the webapp, so any
// implementation — the in-process oculus.Service or a test double — plugs in. The searcher
// owns the search path: it validates a Query (oculus.Query.Validate), applies
// --search-timeout and, when the query asks (Query.Windows), returns each hit's window for
// the page's charts; the webapp decodes, calls it and maps its errors to HTTP.
type (
	Query           = oculus.Query
	Hit             = oculus.Hit
	Result          = oculus.Result
	CollectionMatch = oculus.CollectionMatch
	Collection      = oculus.Collection
	Member          = oculus.Member
	IndexStatus     = oculus.IndexStatus
)

// Errors a Searcher or CollectionStore returns, mapped to 400, 404, 409 and 503.
var (
	ErrBadQuery = oculus.ErrBadQuery
	ErrNotFound = oculus.ErrNotFound
	ErrConflict = oculus.ErrConflict
	ErrClosed   = oculus.ErrClosed // the index closed (shutdown)
)
