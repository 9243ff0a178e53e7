package oculus

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bleve's process-wide analysis workers, started by its package init.
		goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

// env is a real redis-server with a store and a configuration for services.
type env struct {
	t     testing.TB
	srv   *redistest.Server
	store *redisstore.Store
	cfg   Config
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	cfg := DefaultConfig() // the index in memory unless a test sets a directory
	cfg.Window = 24 * time.Hour
	cfg.SearchTimeout = time.Minute
	return &env{t: t, srv: srv, store: store, cfg: cfg}
}

// baseTS is the timestamp of the first point written by put.
const baseTS = 1_700_000_000

// put writes series (name → values, one point per second) to the full namespace.
func (e *env) put(series map[string][]float64) {
	e.t.Helper()
	enc := redisstore.NewEncoder()
	data := map[string][]byte{}
	flush := func() {
		res := e.store.Append(context.Background(), data, nil)
		require.NoError(e.t, res.Err)
		data = map[string][]byte{}
	}
	for name, vals := range series {
		var b []byte
		for i, v := range vals {
			b = enc.AppendPair(b, metric.Int(baseTS+int64(i)), metric.Float(v))
		}
		data[e.store.FullKey(name)] = b
		if len(data) >= 2000 {
			flush()
		}
	}
	flush()
}

// service starts a service on the env's configuration and closes it with the test.
func (e *env) service() *Service {
	e.t.Helper()
	s, err := New(e.options())
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// options wires a service to the env's Redis.
func (e *env) options() Options {
	return Options{Config: e.cfg, Series: e.store, Collections: collectionstore.New(e.store.Client(), nil),
		State: indexstore.New(e.store.Client())}
}

// optionsWith is options exporting the metrics to reg.
func (e *env) optionsWith(reg prometheus.Registerer) Options {
	o := e.options()
	o.Registry = reg
	return o
}

func (e *env) synced() *Service {
	e.t.Helper()
	s := e.service()
	_, err := s.Sync(context.Background())
	require.NoError(e.t, err)
	return s
}

func randomWalk(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	v := rng.NormFloat64() * 10
	for i := range x {
		v += rng.NormFloat64()
		x[i] = v
	}
	return x
}

func ptr[T any](v T) *T { return &v }

// bruteForce ranks every eligible series of corpus against the query exactly as the search
// defines it, with the plain (not early-abandoning) kernels, ties by name.
func bruteForce(corpus map[string][]float64, q Query, defaultLength int) []Hit {
	p, err := validate(q, defaultLength)
	if err != nil {
		panic(err)
	}
	raw := q.Values
	if q.Metric != "" {
		raw = corpus[q.Metric]
	}
	rep := func(x []float64) []float64 {
		y := slices.Clone(x)
		if p.length > 0 && p.length != len(x) {
			y = algorithms.PAA(nil, x, p.length)
		}
		if p.normalize {
			y = algorithms.ZNormalize(nil, y)
		}
		return y
	}
	qq := rep(raw)
	r := algorithms.SakoeChibaCells(p.window, len(qq))
	type scored struct {
		name string
		d    float64 // squared: the search ranks by it
	}
	var all []scored
	for name, x := range corpus {
		if p.dropSelf && name == q.Metric {
			continue // a search by metric leaves the metric itself out unless IncludeSelf
		}
		if len(x) < 2 || !strings.HasPrefix(name, p.prefix) || !p.eligible(name) {
			continue
		}
		c := rep(x)
		if len(c) != len(qq) {
			continue
		}
		var d float64
		if p.method == MethodEuclidean {
			d = algorithms.SquaredEuclidean(qq, c)
		} else {
			d = algorithms.DTW(qq, c, r)
		}
		all = append(all, scored{name, d})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	hits := []Hit{}
	for _, sc := range all[min(p.page*p.k, len(all)):min((p.page+1)*p.k, len(all))] {
		hits = append(hits, Hit{Metric: sc.name, Distance: math.Sqrt(sc.d)})
	}
	return hits
}
