package webapp

// Graphite-web's tag API (/tags, /tags/<tag>, /tags/autoComplete/tags and
// /tags/autoComplete/values), read-only, answered from the tagged names Kale stores
// ("name;k1=v1;k2=v2" in horizon/tags' normal form) as found in the webapp's cached name list.
// There is no tag index: every request makes one pass over the cached names, allocating
// nothing per name, which costs a few milliseconds for 100,000 names and no Redis command
// beyond the cache's own checks.

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	gtags "github.com/kale-project/kale/horizon/tags"
)

// Limits of the tag API's parameters.
const (
	tagsMaxExprs = 100 // expr= parameters of one autocomplete request
)

// tagRoutes registers the tag API on e (open reads, like the other GET routes).
func (s *Server) tagRoutes(e *echo.Echo) {
	e.GET("/tags", s.apiTags, tagsJSONErrors)
	e.GET("/tags/autoComplete/tags", s.apiTagsAutoCompleteTags, tagsJSONErrors)
	e.GET("/tags/autoComplete/values", s.apiTagsAutoCompleteValues, tagsJSONErrors)
	e.GET("/tags/:tag", s.apiTagDetails, tagsJSONErrors)
}

// tagsJSONErrors makes errorHandler answer the tag routes' errors as JSON {"error": …}: they
// live outside /api, where errors would otherwise be rendered as HTML pages.
func tagsJSONErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil {
			c.Request().Header.Set("Accept", "application/json")
		}
		return err
	}
}

// TagInfo is one item of GET /tags.
type TagInfo struct {
	Tag string `json:"tag"`
}

// TagValue is one value of GET /tags/<tag>: how many series carry the tag with that value.
type TagValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// TagDetails is GET /tags/<tag>.
type TagDetails struct {
	Tag    string     `json:"tag"`
	Values []TagValue `json:"values"`
}

// apiTags lists every tag key ("name" included) of the stored series, sorted; ?filter= is a
// regular expression the key must match from its start (Python's re.match, as graphite-web).
func (s *Server) apiTags(c echo.Context) error {
	filter, err := tagFilter(c, "filter")
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", 0, 1, metricsMax)
	if err != nil {
		return err
	}
	names, _, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	keys := tagKeys(names, nil, filter, "")
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]TagInfo, len(keys))
	for i, k := range keys {
		out[i] = TagInfo{Tag: k}
	}
	return c.JSON(http.StatusOK, out)
}

// apiTagDetails lists the values of one tag with the number of series that carry each,
// sorted by value; ?filter= is a regular expression the value must match from its start.
// 404 when no series has the tag (whatever the filter).
func (s *Server) apiTagDetails(c echo.Context) error {
	tag, err := pathParam(c, "tag")
	if err != nil {
		return err
	}
	filter, err := tagFilter(c, "filter")
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", 0, 1, metricsMax)
	if err != nil {
		return err
	}
	names, _, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	values, found := tagValueCounts(names, tag, filter)
	if !found {
		return errJSON(http.StatusNotFound, "no series has the tag %q", tag)
	}
	if limit > 0 && len(values) > limit {
		values = values[:limit]
	}
	return c.JSON(http.StatusOK, TagDetails{Tag: tag, Values: values})
}

// apiTagsAutoCompleteTags lists the tag keys that start with ?tagPrefix=, sorted, at most
// ?limit=. With ?expr= (repeatable, also expr[]) only the series matching every expression
// count, and the keys the expressions name are left out, as graphite-web does.
func (s *Server) apiTagsAutoCompleteTags(c echo.Context) error {
	prefix := c.QueryParam("tagPrefix")
	if len(prefix) > maxNameLen {
		return errJSON(http.StatusBadRequest, "tagPrefix longer than %d bytes", maxNameLen)
	}
	limit, exprs, err := autoCompleteParams(c)
	if err != nil {
		return err
	}
	names, _, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	keys := tagKeys(names, exprs, nil, prefix)
	return c.JSON(http.StatusOK, keys[:min(len(keys), limit)])
}

// apiTagsAutoCompleteValues lists the values of ?tag= that start with ?valuePrefix=, sorted,
// at most ?limit=, among the series matching every ?expr=.
func (s *Server) apiTagsAutoCompleteValues(c echo.Context) error {
	tag, prefix := c.QueryParam("tag"), c.QueryParam("valuePrefix")
	if tag == "" {
		return errJSON(http.StatusBadRequest, "missing ?tag=<tag>")
	}
	if len(tag) > maxNameLen || len(prefix) > maxNameLen {
		return errJSON(http.StatusBadRequest, "tag or valuePrefix longer than %d bytes", maxNameLen)
	}
	limit, exprs, err := autoCompleteParams(c)
	if err != nil {
		return err
	}
	names, _, err := s.names.get(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	values := tagValues(names, exprs, tag, prefix)
	return c.JSON(http.StatusOK, values[:min(len(values), limit)])
}

// tagFilter compiles the regular expression of query parameter p, anchored at the start of
// the string as Python's re.match; nil when the parameter is empty.
func tagFilter(c echo.Context, p string) (*regexp.Regexp, error) {
	v := c.QueryParam(p)
	if v == "" {
		return nil, nil
	}
	if len(v) > maxNameLen {
		return nil, errJSON(http.StatusBadRequest, "?%s= longer than %d bytes", p, maxNameLen)
	}
	re, err := regexp.Compile("^(?:" + v + ")")
	if err != nil {
		return nil, errJSON(http.StatusBadRequest, "?%s=%q is not a valid regular expression: %v", p, v, err)
	}
	return re, nil
}

// autoCompleteParams reads ?limit= and the tag expressions of an autocomplete request.
func autoCompleteParams(c echo.Context) (int, []tagExpr, error) {
	limit, err := intParam(c, "limit", metricsDefault, 1, metricsMax)
	if err != nil {
		return 0, nil, err
	}
	q := c.QueryParams()
	raw := append(slices.Clone(q["expr"]), q["expr[]"]...)
	if len(raw) > tagsMaxExprs {
		return 0, nil, errJSON(http.StatusBadRequest, "more than %d expr parameters", tagsMaxExprs)
	}
	exprs := make([]tagExpr, 0, len(raw))
	for _, r := range raw {
		e, err := parseTagExpr(r)
		if err != nil {
			return 0, nil, err
		}
		exprs = append(exprs, e)
	}
	return limit, exprs, nil
}

// tagExpr is one of graphite's tag expressions: "tag=value" (the tag has that value; with an
// empty value, the series lacks the tag) or "tag!=value" (the series lacks the tag or has
// another value; with an empty value, it has the tag).
type tagExpr struct {
	tag, value string
	not        bool
}

// parseTagExpr reads an expression with graphite-web's grammar (tag: no ';', '!' or '=';
// operator: "=", "!=", "=~" or "!=~"; value: no ';'). The regular-expression operators are
// refused.
func parseTagExpr(s string) (tagExpr, error) {
	i := strings.IndexAny(s, ";!=")
	if i <= 0 || len(s) > maxNameLen {
		return tagExpr{}, errJSON(http.StatusBadRequest, "expr %q is not a tag expression such as dc=x or dc!=x", s)
	}
	e := tagExpr{tag: s[:i]}
	rest := s[i:]
	if strings.HasPrefix(rest, "!") {
		e.not, rest = true, rest[1:]
	}
	if !strings.HasPrefix(rest, "=") {
		return tagExpr{}, errJSON(http.StatusBadRequest, "expr %q is not a tag expression such as dc=x or dc!=x", s)
	}
	rest = rest[1:]
	if strings.HasPrefix(rest, "~") {
		op := "=~"
		if e.not {
			op = "!=~"
		}
		return tagExpr{}, errJSON(http.StatusBadRequest, "expr %q: the operator %s (regular expression) is not supported; use tag=value or tag!=value", s, op)
	}
	if strings.IndexByte(rest, ';') >= 0 {
		return tagExpr{}, errJSON(http.StatusBadRequest, "expr %q: a value cannot contain ';'", s)
	}
	e.value = rest
	return e, nil
}

// matches reports whether the series matches every expression. A missing tag reads as the
// empty value (stored values are never empty), so "dc=" matches series without dc.
func matches(series string, exprs []tagExpr) bool {
	for _, e := range exprs {
		v, _ := tagOf(series, e.tag)
		if (v == e.value) == e.not {
			return false
		}
	}
	return true
}

// tagOf returns the value of tag in series ("name": the part before the first ';').
func tagOf(series, tag string) (string, bool) {
	name, rest, tagged := strings.Cut(series, ";")
	if tag == "name" {
		return name, true
	}
	for tagged {
		var seg string
		seg, rest, tagged = strings.Cut(rest, ";")
		if k, v, _ := strings.Cut(seg, "="); k == tag {
			return v, true
		}
	}
	return "", false
}

// usable reports whether a stored name is a Graphite series: a plain name, or a tagged one
// in normal form. Tagged names stored otherwise (before Kale normalised them) are left out
// of the tag API.
func usable(series string) bool {
	return strings.IndexByte(series, ';') < 0 || gtags.IsNormal(series)
}

// eachTag calls fn for every tag of a usable series, "name" first.
func eachTag(series string, fn func(k, v string)) {
	name, rest, tagged := strings.Cut(series, ";")
	fn("name", name)
	for tagged {
		var seg string
		seg, rest, tagged = strings.Cut(rest, ";")
		k, v, _ := strings.Cut(seg, "=")
		fn(k, v)
	}
}

// tagKeys returns the sorted tag keys of the series that match exprs, those the
// expressions name left out; each key must match filter (nil: any) and start with prefix.
func tagKeys(names []string, exprs []tagExpr, filter *regexp.Regexp, prefix string) []string {
	named := map[string]bool{}
	for _, e := range exprs {
		named[e.tag] = true
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !usable(n) || !matches(n, exprs) {
			continue
		}
		eachTag(n, func(k, _ string) {
			if !seen[k] && !named[k] && strings.HasPrefix(k, prefix) {
				seen[k] = true
			}
		})
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		if filter == nil || filter.MatchString(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// tagValueCounts counts the series per value of tag whose value matches filter (nil: any),
// sorted by value; found reports whether any series has the tag at all.
func tagValueCounts(names []string, tag string, filter *regexp.Regexp) (values []TagValue, found bool) {
	counts := map[string]int{}
	for _, n := range names {
		if !usable(n) {
			continue
		}
		if v, ok := tagOf(n, tag); ok {
			found = true
			counts[v]++
		}
	}
	values = make([]TagValue, 0, len(counts))
	for v, n := range counts {
		if filter == nil || filter.MatchString(v) {
			values = append(values, TagValue{Value: v, Count: n})
		}
	}
	slices.SortFunc(values, func(a, b TagValue) int { return cmp.Compare(a.Value, b.Value) })
	return values, found
}

// tagValues returns the sorted distinct values of tag that start with prefix among the
// series that match exprs.
func tagValues(names []string, exprs []tagExpr, tag, prefix string) []string {
	seen := map[string]bool{}
	for _, n := range names {
		if !usable(n) || !matches(n, exprs) {
			continue
		}
		if v, ok := tagOf(n, tag); ok && strings.HasPrefix(v, prefix) {
			seen[v] = true
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
