package oculus

import (
	"math"
	"strings"

	"github.com/kale-project/kale/algorithms"
)

// Query is one similarity search: by metric name or by values (a drawn shape), with the
// distance, the resampling and the filters to use. Zero values take the defaults.
type Query struct {
	Metric    string    `json:"metric,omitempty"`    // a metric's recent window is the query
	Values    []float64 `json:"values,omitempty"`    // a drawn shape / raw values
	Method    string    `json:"method,omitempty"`    // "dtw" (default), "euclidean", "fastdtw"
	K         int       `json:"k,omitempty"`         // default 10, max 1000
	Page      int       `json:"page,omitempty"`      // 0-based page of K results
	Window    *float64  `json:"window,omitempty"`    // Sakoe-Chiba band as a fraction of the length, default 0.1
	Radius    *int      `json:"radius,omitempty"`    // FastDTW radius, default 5
	Length    *int      `json:"length,omitempty"`    // resampled length; default --search-length (256); 0 = native
	Normalize string    `json:"normalize,omitempty"` // "z" (default) or "none"
	Prefix    string    `json:"prefix,omitempty"`    // only metrics whose name starts with it
	Exclude   []string  `json:"exclude,omitempty"`   // drop metrics having any of these name segments (split on '.')
	Slop      *int      `json:"slop,omitempty"`      // fastdtw phase-1 phrase slop (Oculus p_slop), default 20
	// IncludeSelf keeps the query metric among the results (it is its own closest match, at
	// distance 0). By default a search by metric name leaves it out and still returns K
	// other metrics, as Oculus users expect "other metrics like this one".
	IncludeSelf bool `json:"include_self,omitempty"`

	// Windows asks for each hit's window (Hit.Window) and the query metric's
	// (Result.QueryWindow) in the result, for drawing them. Not part of the JSON API.
	Windows bool `json:"-"`
}

// Validate checks a query as Search does, with the same limits, before it runs: nil, or an
// error wrapping ErrBadQuery that says what is wrong.
func (q Query) Validate() error {
	_, err := validate(q, 0)
	return err
}

// Hit is one result: a metric and its distance to the query (lower is more similar).
type Hit struct {
	Metric   string  `json:"metric"`
	Distance float64 `json:"distance"`
	// Window is the metric's recent window as it was searched, oldest first (only when
	// Query.Windows). It is not part of the JSON API.
	Window []algorithms.Point `json:"-"`
}

// CollectionMatch lists the members of a saved collection found among the results.
type CollectionMatch struct {
	Collection string   `json:"collection"`
	Members    []string `json:"members"`
}

// Result is a search's answer.
type Result struct {
	Results     []Hit             `json:"results"`     // best first; ties broken by metric name; never null
	TookMS      float64           `json:"took_ms"`     // wall time of the search
	Candidates  int               `json:"candidates"`  // phase-1 candidates from the index
	Scanned     int               `json:"scanned"`     // distances computed (not pruned by bounds)
	Total       int               `json:"total"`       // series eligible after filters (less the query metric unless IncludeSelf)
	Skipped     int               `json:"skipped"`     // unequal length at native length (length 0)
	Method      string            `json:"method"`      // the method used
	Approximate bool              `json:"approximate"` // true for fastdtw
	Collections []CollectionMatch `json:"collections"` // saved collections containing result metrics; never null

	// QueryWindow is the query metric's window as it was searched, oldest first (only when
	// Query.Windows and the query is a metric). It is not part of the JSON API.
	QueryWindow []algorithms.Point `json:"-"`
}

// Methods.
const (
	MethodDTW       = "dtw"
	MethodEuclidean = "euclidean"
	MethodFastDTW   = "fastdtw"
)

// Limits and defaults of a query.
const (
	DefaultK       = 10
	MaxK           = 1000
	MaxRank        = 10_000 // (page+1)·k: deepest result a query may ask for
	DefaultWindow  = 0.1
	DefaultRadius  = 5
	MaxRadius      = 1000
	DefaultSlop    = 20
	MaxSlop        = 10_000
	MinValues      = 2
	MaxValues      = 100_000
	MaxLength      = 100_000
	maxPrefix      = 1024
	maxExclude     = 100
	maxMetricBytes = 1024
)

// plan is a validated query with every default applied.
type plan struct {
	metric    string
	values    []float64
	method    string
	k, page   int
	need      int     // (page+1)·k results to rank
	window    float64 // dtw band fraction
	radius    int
	length    int // 0 = native
	normalize bool
	prefix    string
	exclude   []string
	slop      int
	windows   bool
	dropSelf  bool   // leave the query metric out of the results (ranked one deeper)
	self      string // the query metric's resolved name, set once it is read
}

// validate checks q and applies the defaults; defaultLength is --search-length.
func validate(q Query, defaultLength int) (plan, error) {
	p := plan{metric: q.Metric, values: q.Values, prefix: q.Prefix, windows: q.Windows}
	switch {
	case q.Metric != "" && len(q.Values) > 0:
		return p, badf("give either metric or values, not both")
	case q.Metric == "" && len(q.Values) == 0:
		return p, badf("give a metric name or values to search for")
	case len(q.Metric) > maxMetricBytes:
		return p, badf("metric name of %d bytes is too long (max %d)", len(q.Metric), maxMetricBytes)
	case q.Metric == "" && len(q.Values) < MinValues:
		return p, badf("values: want at least %d values, got %d", MinValues, len(q.Values))
	case len(q.Values) > MaxValues:
		return p, badf("values: want at most %d values, got %d", MaxValues, len(q.Values))
	}
	for i, v := range q.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return p, badf("values[%d] is %v, not a finite number", i, v)
		}
	}
	switch m := strings.ToLower(strings.TrimSpace(q.Method)); m {
	case "", MethodDTW:
		p.method = MethodDTW
	case MethodEuclidean, "euclidian", "ed":
		p.method = MethodEuclidean
	case MethodFastDTW:
		p.method = MethodFastDTW
	default:
		return p, badf("method %q is not one of dtw, euclidean, fastdtw", q.Method)
	}
	p.k = q.K
	if p.k == 0 {
		p.k = DefaultK
	}
	if p.k < 1 || p.k > MaxK {
		return p, badf("k %d is not between 1 and %d", q.K, MaxK)
	}
	if q.Page < 0 {
		return p, badf("page %d is negative (pages count from 0)", q.Page)
	}
	p.page = q.Page
	if (p.page+1)*p.k > MaxRank {
		return p, badf("page %d of %d results reaches beyond the first %d results", q.Page, p.k, MaxRank)
	}
	p.need = (p.page + 1) * p.k
	if q.Metric != "" && !q.IncludeSelf {
		// The query metric is its own best match: rank one more, then drop it (result).
		p.dropSelf = true
		p.need++
	}
	p.window = DefaultWindow
	if q.Window != nil {
		p.window = *q.Window
		if math.IsNaN(p.window) || p.window < 0 || p.window > 1 {
			return p, badf("window %v is not a fraction between 0 and 1", *q.Window)
		}
	}
	p.radius = DefaultRadius
	if q.Radius != nil {
		p.radius = *q.Radius
		if p.radius < 0 || p.radius > MaxRadius {
			return p, badf("radius %d is not between 0 and %d", p.radius, MaxRadius)
		}
	}
	p.length = defaultLength
	if q.Length != nil {
		p.length = *q.Length
		if p.length != 0 && (p.length < MinValues || p.length > MaxLength) {
			return p, badf("length %d is neither 0 (native) nor between %d and %d", p.length, MinValues, MaxLength)
		}
	}
	switch strings.ToLower(q.Normalize) {
	case "", "z":
		p.normalize = true
	case "none":
	default:
		return p, badf("normalize %q is not z or none", q.Normalize)
	}
	if len(q.Prefix) > maxPrefix {
		return p, badf("prefix of %d bytes is too long (max %d)", len(q.Prefix), maxPrefix)
	}
	if len(q.Exclude) > maxExclude {
		return p, badf("exclude: at most %d segments, got %d", maxExclude, len(q.Exclude))
	}
	for _, seg := range q.Exclude {
		switch {
		case seg == "":
			return p, badf("exclude: empty segment")
		case strings.Contains(seg, "."):
			// "a.b" excludes both segments, as Oculus' dot-joined filters parameter did.
			for _, part := range strings.Split(seg, ".") {
				if part != "" {
					p.exclude = append(p.exclude, part)
				}
			}
		default:
			p.exclude = append(p.exclude, seg)
		}
	}
	p.slop = DefaultSlop
	if q.Slop != nil {
		p.slop = *q.Slop
		if p.slop < 0 || p.slop > MaxSlop {
			return p, badf("slop %d is not between 0 and %d", p.slop, MaxSlop)
		}
	}
	return p, nil
}

// eligible reports whether a metric passes the prefix and exclusion filters.
// nativeLength reports whether series compare at their native length (length 0): those of
// another length than the query are skipped.
func (p *plan) nativeLength() bool { return p.length == 0 }

func (p *plan) eligible(name string) bool {
	if !strings.HasPrefix(name, p.prefix) {
		return false
	}
	for _, seg := range p.exclude {
		if hasSegment(name, seg) {
			return false
		}
	}
	return true
}
