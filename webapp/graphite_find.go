package webapp

// graphite-web's metric finder: /metrics/find (treejson, completer), /metrics/expand and
// /metrics/index.json, served from the webapp's cached name list (names.go), which lists a
// new metric within namesFresh (2 s).

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// TreeNode is one item of /metrics/find's treejson answer.
type TreeNode struct {
	ID            string `json:"id"`
	Text          string `json:"text"`
	Leaf          int    `json:"leaf"`
	Expandable    int    `json:"expandable"`
	AllowChildren int    `json:"allowChildren"`
}

// CompleterNode is one item of /metrics/find's completer answer.
type CompleterNode struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	IsLeaf string `json:"is_leaf"`
}

type foundNode struct {
	path, name string
	leaf       bool
}

// findNodes matches query node by node against the names: a name with as many nodes is a
// leaf, a longer one makes its prefix a branch. Sorted by name, branches first on a tie.
func findNodes(names []string, query string) ([]foundNode, error) {
	re, err := globRegexp(query)
	if err != nil {
		return nil, err
	}
	depth := strings.Count(query, ".") + 1
	if isGlob(query) {
		// dots inside {…} do not count as node separators of a name
		depth = nodeCount(query)
	}
	seen := map[foundNode]bool{}
	var out []foundNode
	for _, n := range names {
		if strings.IndexByte(n, ';') >= 0 {
			continue // tagged names: left out of path matching
		}
		parts := strings.SplitN(n, ".", depth+1)
		if len(parts) < depth {
			continue
		}
		prefix := strings.Join(parts[:depth], ".")
		if !re.MatchString(prefix) {
			continue
		}
		f := foundNode{path: prefix, name: parts[depth-1], leaf: len(parts) == depth}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b foundNode) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		if a.leaf == b.leaf {
			return 0
		}
		if a.leaf {
			return 1
		}
		return -1
	})
	return out, nil
}

// nodeCount counts a path expression's nodes, ignoring dots inside {…} and […].
func nodeCount(q string) int {
	n, depth := 1, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '.':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

func (s *Server) graphiteFind(c echo.Context) error {
	f, err := formValues(c)
	if err != nil {
		return err
	}
	query := first(f, "query")
	if query == "" {
		return errJSON(http.StatusBadRequest, "missing ?query=")
	}
	if len(query) > maxNameLen {
		return errJSON(http.StatusBadRequest, "query longer than %d bytes", maxNameLen)
	}
	format := first(f, "format")
	if format == "" {
		format = "treejson"
	}
	base := ""
	if i := strings.LastIndexByte(query, '.'); i >= 0 {
		base = query[:i+1]
	}
	if format != "treejson" && format != "completer" {
		return errJSON(http.StatusBadRequest, "unsupported format %q (treejson, completer)", format)
	}
	if format == "completer" {
		query = strings.ReplaceAll(query, "..", "*.")
		if !strings.HasSuffix(query, "*") {
			query += "*"
		}
	}
	names, err := s.plainNames(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	nodes, err := findNodes(names, query)
	if err != nil {
		return errJSON(http.StatusBadRequest, "%v", err)
	}
	if first(f, "leavesOnly") == "1" {
		nodes = slices.DeleteFunc(nodes, func(n foundNode) bool { return !n.leaf })
	}
	// graphite-web sorts the matches by their last node (stably)
	slices.SortStableFunc(nodes, func(a, b foundNode) int { return strings.Compare(a.name, b.name) })
	if format == "completer" {
		out := make([]CompleterNode, 0, len(nodes))
		for _, n := range nodes {
			cn := CompleterNode{Path: n.path, Name: n.name, IsLeaf: "1"}
			if !n.leaf {
				cn.Path += "."
				cn.IsLeaf = "0"
			}
			out = append(out, cn)
		}
		return c.JSON(http.StatusOK, map[string]any{"metrics": out})
	}
	out := make([]TreeNode, 0, len(nodes)+1)
	if len(nodes) > 1 && first(f, "wildcards") == "1" {
		w := TreeNode{ID: base + "*", Text: "*", Leaf: 1}
		if slices.ContainsFunc(nodes, func(n foundNode) bool { return !n.leaf }) {
			w = TreeNode{ID: base + "*", Text: "*", Expandable: 1, AllowChildren: 1}
		}
		out = append(out, w)
	}
	var leaves []TreeNode
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.name] {
			continue
		}
		seen[n.name] = true
		t := TreeNode{ID: base + n.name, Text: n.name}
		if n.leaf {
			t.Leaf = 1
			leaves = append(leaves, t)
		} else {
			t.Expandable, t.AllowChildren = 1, 1
			out = append(out, t)
		}
	}
	return c.JSON(http.StatusOK, append(out, leaves...))
}

// graphiteExpand answers /metrics/expand: the paths (branches and leaves; leavesOnly=1:
// leaves) every query= matches, one sorted list, or with groupByExpr=1 a sorted list per query.
func (s *Server) graphiteExpand(c echo.Context) error {
	f, err := formValues(c)
	if err != nil {
		return err
	}
	queries := f["query"]
	if len(queries) > maxTargets {
		return errJSON(http.StatusBadRequest, "more than %d queries", maxTargets)
	}
	names, err := s.plainNames(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	leavesOnly := first(f, "leavesOnly") == "1"
	grouped := map[string][]string{}
	all := map[string]bool{}
	for _, q := range queries {
		if len(q) > maxNameLen {
			return errJSON(http.StatusBadRequest, "query longer than %d bytes", maxNameLen)
		}
		nodes, err := findNodes(names, q)
		if err != nil {
			return errJSON(http.StatusBadRequest, "%v", err)
		}
		paths := []string{}
		for _, n := range nodes {
			if (n.leaf || !leavesOnly) && !slices.Contains(paths, n.path) {
				paths = append(paths, n.path)
				all[n.path] = true
			}
		}
		slices.Sort(paths)
		grouped[q] = paths
	}
	if first(f, "groupByExpr") == "1" {
		return c.JSON(http.StatusOK, map[string]any{"results": grouped})
	}
	out := make([]string, 0, len(all))
	for p := range all {
		out = append(out, p)
	}
	slices.Sort(out)
	return c.JSON(http.StatusOK, map[string]any{"results": out})
}

// graphiteIndex answers /metrics/index.json: every stored series name, sorted (tagged ones
// in their normal form "name;tag=value;…").
func (s *Server) graphiteIndex(c echo.Context) error {
	names, err := s.plainNames(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the metric names", err)
	}
	return c.JSON(http.StatusOK, names)
}
