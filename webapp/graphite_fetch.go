package webapp

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gtags "github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/utils/redisstore"
)

// fetchSeries is the render API's gFetcher: the names a path expression (or a seriesByTag
// call, passed as its raw text) matches, read with one pipelined MGET and aligned. Every
// fetch of the request (functions such as movingAverage and timeShift fetch again) draws on
// one budget of maxRenderPoints slots. As graphite-web's whisper reader, a range reaching
// past now ends at now.
func (s *Server) fetchSeries(names []string, now int64) gFetcher {
	var budget atomic.Int64 // slots left to allocate; the workers reserve from it before allocating
	budget.Store(maxRenderPoints)
	return func(ctx context.Context, path string, from, until int64) ([]*gSeries, error) {
		until = min(until, now)
		if from >= until {
			return nil, nil
		}
		matched, err := matchNames(names, path)
		if err != nil {
			return nil, err
		}
		if len(matched) == 0 && !isGlob(path) && !strings.HasPrefix(path, "seriesByTag(") && !s.store.ReservedName(path) {
			// an exact name the cached list does not hold yet (it is up to namesFresh old):
			// read it anyway, a missing key costs nothing
			if n, err := gtags.Normalize(path); err == nil {
				matched = []string{n}
			}
		}
		if len(matched) > maxRenderSeries {
			return nil, errBadTarget{fmt.Errorf("%q matches %d series, more than %d", path, len(matched), maxRenderSeries)}
		}
		keys := make([]string, len(matched))
		for i, n := range matched {
			keys[i] = s.store.FullKey(n)
		}
		aligned, found, err := s.readAligned(ctx, keys, matched, from, until, &budget)
		if err != nil {
			return nil, errStore{err}
		}
		out := make([]*gSeries, 0, len(matched))
		for i, g := range aligned {
			if !found[i] {
				continue
			}
			if g == nil {
				return nil, errBadTarget{fmt.Errorf("the targets hold more than %d points; narrow the range or the globs", maxRenderPoints)}
			}
			g.pathExpr = path
			g.tags = seriesTags(matched[i])
			out = append(out, g)
		}
		return out, nil
	}
}

// fetchChunk is how many series one MGET of a render reads.
const fetchChunk = 128

// readAligned reads the keys in chunks and decodes and aligns each chunk as it arrives, on up
// to GOMAXPROCS goroutines, so one chunk's decoding overlaps the next one's read: decoding is
// most of a large render's time. Each series reserves its slots from budget before it is
// allocated, so the request never holds more than the budget whatever the workers do.
// found[i] says keys[i] exists; aligned[i] is nil where it does not, or where the budget
// could not hold the series.
func (s *Server) readAligned(ctx context.Context, keys, names []string, from, until int64, budget *atomic.Int64) (aligned []*gSeries, found []bool, err error) {
	aligned, found = make([]*gSeries, len(keys)), make([]bool, len(keys))
	reserve := func(n int64) bool {
		if budget.Add(-n) < 0 {
			budget.Add(n)
			return false
		}
		return true
	}
	chunks := (len(keys) + fetchChunk - 1) / fetchChunk
	var next atomic.Int64
	errs := make([]error, chunks)
	work := func() {
		var pairs []redisstore.Pair // reused: alignSeries copies what it keeps
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks || ctx.Err() != nil {
				return
			}
			lo, hi := c*fetchChunk, min((c+1)*fetchChunk, len(keys))
			raw, err := s.store.RawShared(ctx, keys[lo:hi]) // decoded at once, never modified nor kept
			if err != nil {
				errs[c] = err
				return
			}
			for i, b := range raw {
				if b != nil {
					found[lo+i] = true
					pairs, _ = redisstore.AppendPairs(pairs[:0], b)
					aligned[lo+i] = alignSeriesIn(names[lo+i], pairs, from, until, reserve)
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), chunks, 8)
	if workers <= 1 {
		work()
	} else {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	}
	for _, e := range errs {
		if e != nil {
			return nil, nil, e
		}
	}
	return aligned, found, ctx.Err()
}

// matchNames returns the sorted names a path expression matches: a glob over the plain
// names, an exact name (a tagged one in any tag order), or a seriesByTag(…) call.
func matchNames(names []string, path string) ([]string, error) {
	if strings.HasPrefix(path, "seriesByTag(") {
		return matchSeriesByTag(names, path)
	}
	if strings.IndexByte(path, ';') >= 0 {
		n, err := gtags.Normalize(path)
		if err != nil {
			return nil, errBadTarget{fmt.Errorf("%q is not a tagged series name: %v", path, err)}
		}
		path = n
	} else if isGlob(path) {
		re, err := globRegexp(path)
		if err != nil {
			return nil, errBadTarget{err}
		}
		var matched []string
		for _, n := range names {
			if strings.IndexByte(n, ';') < 0 && re.MatchString(n) {
				matched = append(matched, n)
			}
		}
		return matched, nil
	}
	if _, ok := slices.BinarySearch(names, path); ok {
		return []string{path}, nil
	}
	return nil, nil
}

// seriesTags are graphite's tags of a series name: "name" and, for a tagged name, its tags.
func seriesTags(name string) map[string]string {
	base, rest, tagged := strings.Cut(name, ";")
	tags := map[string]string{"name": base}
	for tagged {
		var seg string
		seg, rest, tagged = strings.Cut(rest, ";")
		if k, v, ok := strings.Cut(seg, "="); ok {
			tags[k] = v
		}
	}
	return tags
}

// tagSpec is one of seriesByTag's expressions: tag=v, tag!=v, tag=~re, tag!=~re.
type tagSpec struct {
	tag, value string
	not        bool
	re         *regexp.Regexp // =~ and !=~: anchored at the start of the value
}

// tagSpecRE is graphite-web's grammar of a tag expression (tags/base.py).
var tagSpecRE = regexp.MustCompile(`^([^;!=]+)(!?=~?)([^;]*)$`)

func parseTagSpec(s string) (tagSpec, error) {
	m := tagSpecRE.FindStringSubmatch(s)
	if m == nil {
		return tagSpec{}, fmt.Errorf("seriesByTag: invalid tag expression %q (tag=v, tag!=v, tag=~re, tag!=~re)", s)
	}
	t := tagSpec{tag: m[1], value: m[3], not: strings.HasPrefix(m[2], "!")}
	if strings.HasSuffix(m[2], "~") {
		re, err := regexp.Compile("^(?:" + m[3] + ")")
		if err != nil {
			return tagSpec{}, fmt.Errorf("seriesByTag: bad regular expression in %q: %v", s, err)
		}
		t.re = re
	}
	return t, nil
}

// matchesEmpty says the expression matches a series without the tag.
func (t tagSpec) matchesEmpty() bool { return t.match("") }

func (t tagSpec) match(v string) bool {
	ok := v == t.value
	if t.re != nil {
		ok = t.re.MatchString(v)
	}
	return ok != t.not
}

// matchSeriesByTag resolves a seriesByTag call (its raw text) against the tagged and plain
// names: every expression must match; a missing tag reads as the empty value; at least one
// expression must need a non-empty value, as graphite-web requires.
func matchSeriesByTag(names []string, call string) ([]string, error) {
	e, err := parseTarget(call)
	if err != nil {
		return nil, errBadTarget{err}
	}
	if len(e.args) == 0 || len(e.kwargs) > 0 {
		return nil, errBadTarget{fmt.Errorf("seriesByTag needs one or more tag expressions as strings")}
	}
	specs := make([]tagSpec, len(e.args))
	anyNonEmpty := false
	for i, a := range e.args {
		if a.kind != gString {
			return nil, errBadTarget{fmt.Errorf("seriesByTag: %s is not a string", a.String())}
		}
		if specs[i], err = parseTagSpec(a.str); err != nil {
			return nil, errBadTarget{err}
		}
		anyNonEmpty = anyNonEmpty || !specs[i].matchesEmpty()
	}
	if !anyNonEmpty {
		return nil, errBadTarget{fmt.Errorf("seriesByTag: at least one tag expression must require a non-empty value")}
	}
	var out []string
	for _, n := range names {
		if !usable(n) {
			continue
		}
		ok := true
		for _, t := range specs {
			v, _ := tagOf(n, t.tag)
			if !t.match(v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// errBadTarget is a target that cannot be answered (400); errStore a failed read (503).
type errBadTarget struct{ error }
type errStore struct{ error }

// fullDuration is how far back series are kept (Config.FullDuration, 24h when unset).
func (s *Server) fullDuration() time.Duration {
	if s.cfg.FullDuration > 0 {
		return s.cfg.FullDuration
	}
	return 24 * time.Hour
}
