package oculus

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/tools/procstat"
	"github.com/kale-project/kale/utils/tools/shapes"
)

// benchSeries is the corpus size of BenchmarkSearch (KALE_BENCH_SERIES overrides it).
func benchSeries(b *testing.B) int {
	if s := os.Getenv("KALE_BENCH_SERIES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "KALE_BENCH_SERIES")
		return n
	}
	return 100_000
}

// shapeFamily returns a member of one of a few hundred families of shapes (shapes.Fill), so
// that queries have true near neighbours.
func shapeFamily(rng *rand.Rand, family, n int) []float64 {
	x := make([]float64, n)
	shapes.Fill(rng, family, x)
	return x
}

// benchCorpus is n series of length 256: about 90% random walks, the rest members of 300
// shape families.
func benchCorpus(n int) (map[string][]float64, []string) {
	rng := rand.New(rand.NewPCG(42, 7))
	corpus := make(map[string][]float64, n)
	names := make([]string, 0, n)
	for i := range n {
		var name string
		var x []float64
		if i%10 == 0 {
			f := (i / 10) % 300
			name = fmt.Sprintf("shape.f%03d.m%06d", f, i)
			x = shapeFamily(rng, f, 256)
		} else {
			name = fmt.Sprintf("walk.h%03d.m%06d", i%1000, i)
			x = randomWalk(rng, 256)
		}
		corpus[name] = x
		names = append(names, name)
	}
	slices.Sort(names)
	return corpus, names
}

// cpuTime is the CPU time (user + system) of the process so far: a search's cost on a shared
// machine, where wall times depend on the other load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSearch indexes KALE_BENCH_SERIES (default 100,000) series of length 256 into a
// disk index, then runs 200 top-10 dtw searches (window 0.1; by metric, by a family shape,
// by a new random walk) and reports their p50 and p99, the brute-force scan time (plain DTW
// of every series on every core) of the first queries and the speed-up, the indexing rate
// (read from Redis, prepare, index), the index size on disk and the process RSS. ns/op is the
// mean time of one search.
func BenchmarkSearch(b *testing.B) {
	n := benchSeries(b)
	e := newEnv(b)
	e.cfg.IndexPath = filepath.Join(b.TempDir(), "index")
	corpus, names := benchCorpus(n)
	e.put(corpus)
	heap0 := heapInUse()
	s := e.service()
	ctx := context.Background()
	start := time.Now()
	st, err := s.Sync(ctx)
	require.NoError(b, err)
	indexSecs := time.Since(start).Seconds()
	require.Equal(b, n, st.Indexed)
	// What the service keeps on the Go heap per series: the compact series, the name→marker
	// map and bleve's in-memory state (its segments are files, mapped outside the heap).
	serviceBytes := float64(heapInUse()-heap0) / float64(n)

	rng := rand.New(rand.NewPCG(9, 9))
	var queries []Query
	for len(queries) < 200 {
		switch len(queries) % 4 {
		case 0, 1:
			queries = append(queries, Query{Metric: names[rng.IntN(len(names))]})
		case 2:
			queries = append(queries, Query{Values: shapeFamily(rng, rng.IntN(300), 256)})
		default:
			queries = append(queries, Query{Values: randomWalk(rng, 256)})
		}
	}

	// Brute force: the plain DTW of every series on every core, for a few queries (the
	// z-normalised windows are prepared outside the timing, as an index would hold them).
	zs := make(map[string][]float64, len(corpus))
	for name, x := range corpus {
		zs[name] = resampleZ(x, 256)
	}
	brute := func(q Query) time.Duration {
		raw := q.Values
		if q.Metric != "" {
			raw = corpus[q.Metric]
		}
		t0 := time.Now()
		qz := resampleZ(raw, 256)
		r := algorithms.SakoeChibaCells(DefaultWindow, 256)
		workers := runtime.GOMAXPROCS(0)
		best := make([]float64, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				best[w] = math.Inf(1)
				for i := w; i < len(names); i += workers {
					best[w] = min(best[w], algorithms.DTW(qz, zs[names[i]], r))
				}
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}
	var bruteTotal time.Duration
	const bruteQueries = 3
	for i := range bruteQueries {
		bruteTotal += brute(queries[i])
	}
	bruteMS := bruteTotal.Seconds() * 1000 / bruteQueries

	var sizeMB float64
	if st := s.Status(ctx); st.SizeBytes > 0 {
		sizeMB = float64(st.SizeBytes) / (1 << 20)
	}
	// The latency sample: every query once, in order.
	lat := make([]float64, 0, len(queries))
	var scanned int
	cpu0 := cpuTime()
	for _, q := range queries {
		t0 := time.Now()
		res, err := s.Search(ctx, q)
		lat = append(lat, time.Since(t0).Seconds()*1000)
		require.NoError(b, err)
		scanned += res.Scanned
	}
	cpuMS := (cpuTime() - cpu0).Seconds() * 1000 / float64(len(queries))
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]

	b.Run(fmt.Sprintf("dtw/series=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Search(ctx, queries[i%len(queries)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		rss, peak, _ := procstat.Memory(procstat.Self)
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")
		b.ReportMetric(cpuMS, "cpu-ms/search")
		b.ReportMetric(bruteMS, "brute-ms")
		b.ReportMetric(bruteMS/p50, "speedup-p50")
		b.ReportMetric(float64(scanned)/float64(len(queries)), "scanned/search")
		b.ReportMetric(float64(n)/indexSecs, "indexed-series/s")
		b.ReportMetric(sizeMB, "index-MB")
		b.ReportMetric(rss, "rss-MB")
		b.ReportMetric(serviceBytes, "service-heap-B/series")
		b.ReportMetric(peak, "peak-rss-MB")
	})

	// Oculus' approximate search, by metric name as the Oculus UI used it.
	b.Run(fmt.Sprintf("fastdtw/series=%d", n), func(b *testing.B) {
		var lat []float64
		i := 0
		for b.Loop() {
			q := Query{Metric: names[(i*7919)%len(names)], Method: MethodFastDTW}
			t0 := time.Now()
			if _, err := s.Search(ctx, q); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0).Seconds()*1000)
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(lat[len(lat)/2], "p50-ms")
		b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)], "p99-ms")
	})
}

// heapInUse is the Go heap in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkSeriesMemory measures the resident bytes of one series as a snapshot keeps it
// (the compact form of series.go plus its snapshot slot), for windows of 256 points indexed
// at the default length 256: the heap in use after preparing KALE_BENCH_SERIES series (at
// most 100,000), less the heap before, per series.
func BenchmarkSeriesMemory(b *testing.B) {
	n := min(benchSeries(b), 100_000)
	s := &Service{cfg: DefaultConfig(), length: DefaultIndexLength}
	rng := rand.New(rand.NewPCG(11, 12))
	enc := redisstore.NewEncoder()
	raws := make([][]byte, n)
	names := make([]string, n)
	for i := range raws {
		for j, v := range randomWalk(rng, 256) {
			raws[i] = enc.AppendPair(raws[i], metric.Int(baseTS+int64(j)), metric.Float(v))
		}
		names[i] = fmt.Sprintf("bench.host%03d.metric%06d", i%1000, i)
	}
	var perSeries float64
	for b.Loop() {
		before := heapInUse()
		list := make([]*series, 0, n)
		fresh := make(map[*series][]float32, n)
		var buf []redisstore.Pair
		for i, raw := range raws {
			var p prepared
			p, buf = s.prepare(strings.Clone(names[i]), raw, buf)
			list = append(list, p.series)
			fresh[p.series] = p.bounds
		}
		sn := newSnapshot(s.length, list, nil, fresh)
		perSeries = float64(heapInUse()-before) / float64(n)
		runtime.KeepAlive(sn)
	}
	b.ReportMetric(perSeries, "B/series")
}

// BenchmarkLBPAA measures the first-pass bound over one series.
func BenchmarkLBPAA(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	q := resampleZ(randomWalk(rng, 256), 256)
	c := segmentMeans(nil, resampleZ(randomWalk(rng, 256), 256))
	u, l := algorithms.Envelope(q, 26, nil, nil)
	pb := newPAABound(q, u, l, paaSlack(256))
	c32 := make([]float32, len(c))
	for i, v := range c {
		c32[i] = float32(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = lbPAA(pb, c32, math.Inf(1))
	}
}
