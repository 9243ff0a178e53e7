package searchload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// Search parameters of a run: the defaults of POST /api/v1/search (dtw, window 0.1, length
// 256, z-normalised), the query metric left out of its results.
const (
	searchWindow = 0.1
	searchLength = 256
	// oculusWindow is --oculus-window's default: the window of each series that is searched.
	oculusWindow = time.Hour
)

// sample is one search as the client saw it.
type sample struct {
	at     time.Time
	ms     float64 // at the client
	took   float64 // the search's took_ms
	metric string
	hits   []hit
	err    error
}

type hit struct {
	Metric   string  `json:"metric"`
	Distance float64 `json:"distance"`
}

// search sends one DTW top-k search by metric name and times it.
func search(ctx context.Context, base, metric string, k int) sample {
	body, _ := json.Marshal(map[string]any{"metric": metric, "method": "dtw", "k": k, "window": searchWindow})
	s := sample{at: time.Now(), metric: metric}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/search", bytes.NewReader(body))
	if err != nil {
		s.err = err
		return s
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		s.err = err
		return s
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.ms = float64(time.Since(s.at).Microseconds()) / 1000
	if err != nil {
		s.err = err
		return s
	}
	if resp.StatusCode != http.StatusOK {
		s.err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		return s
	}
	var res struct {
		Results []hit   `json:"results"`
		TookMS  float64 `json:"took_ms"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		s.err = err
		return s
	}
	s.hits, s.took = res.Results, res.TookMS
	return s
}

// summarise fills the latency summaries, splitting the searches by whether an analyzer cycle
// was running when they started (a cycle counts from its start to start + duration).
func summarise(rep *Report, samples []sample) {
	var all, server, during, outside []float64
	for _, s := range samples {
		if s.err != nil {
			continue
		}
		all = append(all, s.ms)
		server = append(server, s.took)
		if inCycle(rep.Cycles, s.at) {
			during = append(during, s.ms)
		} else {
			outside = append(outside, s.ms)
		}
	}
	rep.All, rep.Server, rep.DuringCycle, rep.OutsideCycle = latency(all), latency(server), latency(during), latency(outside)
}

func inCycle(cycles []CycleWindow, t time.Time) bool {
	for _, c := range cycles {
		end := c.Start.Add(time.Duration(c.Duration * float64(time.Second)))
		if !t.Before(c.Start) && t.Before(end) {
			return true
		}
	}
	return false
}

func latency(ms []float64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	slices.Sort(ms)
	at := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	return Latency{N: len(ms), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms[len(ms)-1]}
}

// check compares the first o.Check successful searches with a brute-force scan of every
// series' window as stored in Redis.
func check(ctx context.Context, store *redisstore.Store, names []string, samples []sample, o Options, rep *Report) error {
	start := time.Now()
	zs, err := loadAll(ctx, store, names)
	if err != nil {
		return err
	}
	r := algorithms.SakoeChibaCells(searchWindow, searchLength)
	for _, s := range samples {
		if rep.Checked >= o.Check {
			break
		}
		if s.err != nil {
			continue
		}
		at := slices.Index(names, s.metric)
		if at < 0 || zs[at] == nil {
			continue
		}
		q := zs[at]
		want := brute(zs, names, q, s.metric, r, o.K)
		rep.Checked++
		if same(want, s.hits) {
			rep.Exact++
		} else {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("%s: got %v, brute force %v", s.metric, s.hits, want))
		}
	}
	fmt.Fprintf(o.Log, "checked %d searches against brute force in %.1fs: %d equal\n", rep.Checked, time.Since(start).Seconds(), rep.Exact)
	return nil
}

// loadAll reads every series and returns its z-normalised window at searchLength (nil when it
// has fewer than 2 points), as the search compares it.
func loadAll(ctx context.Context, store *redisstore.Store, names []string) ([][]float64, error) {
	out := make([][]float64, len(names))
	const chunk = 1000
	for lo := 0; lo < len(names); lo += chunk {
		hi := min(lo+chunk, len(names))
		keys := make([]string, 0, hi-lo)
		for _, n := range names[lo:hi] {
			keys = append(keys, store.FullKey(n))
		}
		raws, err := store.Raw(ctx, keys)
		if err != nil {
			return nil, err
		}
		for i, b := range raws {
			out[lo+i] = zWindow(b)
		}
	}
	return out, nil
}

// zWindow decodes a stored series and returns ZNormalize(PAA(window, searchLength)): finite
// points sorted by timestamp, the first of equal timestamps kept, those newer than the newest
// minus oculusWindow.
func zWindow(b []byte) []float64 {
	pairs, _ := redisstore.AppendPairs(nil, b)
	pairs = slices.DeleteFunc(pairs, func(p redisstore.Pair) bool {
		return math.IsNaN(p.Timestamp) || math.IsInf(p.Timestamp, 0) || math.IsNaN(p.Value) || math.IsInf(p.Value, 0)
	})
	slices.SortStableFunc(pairs, func(a, b redisstore.Pair) int {
		switch {
		case a.Timestamp < b.Timestamp:
			return -1
		case a.Timestamp > b.Timestamp:
			return 1
		}
		return 0
	})
	if len(pairs) == 0 {
		return nil
	}
	cut := pairs[len(pairs)-1].Timestamp - oculusWindow.Seconds()
	var vals []float64
	for i, p := range pairs {
		if p.Timestamp <= cut || (i > 0 && p.Timestamp == pairs[i-1].Timestamp) {
			continue
		}
		vals = append(vals, p.Value)
	}
	if len(vals) < 2 {
		return nil
	}
	z := algorithms.PAA(nil, vals, searchLength)
	return algorithms.ZNormalize(z, z)
}

// brute returns the k nearest series to q by plain DTW on every core, the query metric left
// out, ties broken by name.
func brute(zs [][]float64, names []string, q []float64, self string, r, k int) []hit {
	type scored struct {
		d float64
		i int
	}
	workers := runtime.GOMAXPROCS(0)
	parts := make([][]scored, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(zs); i += workers {
				if zs[i] == nil || names[i] == self {
					continue
				}
				parts[w] = append(parts[w], scored{algorithms.DTW(q, zs[i], r), i})
			}
		}()
	}
	wg.Wait()
	var all []scored
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return strings.Compare(names[a.i], names[b.i])
	})
	out := make([]hit, 0, k)
	for _, s := range all[:min(k, len(all))] {
		out = append(out, hit{Metric: names[s.i], Distance: math.Sqrt(s.d)})
	}
	return out
}

// same reports whether two rankings name the same metrics in the same order with the same
// distances (to a relative 1e-9: JSON round-trips them).
func same(want, got []hit) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i].Metric != got[i].Metric || math.Abs(want[i].Distance-got[i].Distance) > 1e-9*math.Max(1, want[i].Distance) {
			return false
		}
	}
	return true
}
