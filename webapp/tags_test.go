package webapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tagsEnv is a webapp on a real redis-server holding tagged and plain names (and one tagged
// name stored out of normal form, which the tag API leaves out).
func tagsEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	data := map[string][]byte{}
	for _, n := range []string{"cpu;dc=x;host=a", "cpu;dc=y;host=b", "mem;host=a", "plain.metric", "net;host=c;dc=z"} {
		data[e.store.FullKey(n)] = []byte{}
	}
	require.NoError(t, e.store.Append(context.Background(), data, nil).Err)
	return e
}

func TestTagsAPI(t *testing.T) {
	e := tagsEnv(t)
	for _, tc := range []struct {
		name, path string
		code       int
		want       string // JSON, compared semantically; "" with an error code: any {"error"}
		errHas     string // part of the error message
	}{
		// GET /tags
		{"all tags, name included", "/tags", 200, `[{"tag":"dc"},{"tag":"host"},{"tag":"name"}]`, ""},
		{"filter matches from the start", "/tags?filter=h", 200, `[{"tag":"host"}]`, ""},
		{"filter is anchored at the start", "/tags?filter=ost", 200, `[]`, ""},
		{"filter alternation", "/tags?filter=na|dc", 200, `[{"tag":"dc"},{"tag":"name"}]`, ""},
		{"tags limit", "/tags?limit=2", 200, `[{"tag":"dc"},{"tag":"host"}]`, ""},
		{"bad filter regex", "/tags?filter=" + url.QueryEscape("(x"), 400, "", "not a valid regular expression"},

		// GET /tags/<tag>
		{"values with counts", "/tags/host", 200, `{"tag":"host","values":[{"value":"a","count":2},{"value":"b","count":1}]}`, ""},
		{"dc values", "/tags/dc", 200, `{"tag":"dc","values":[{"value":"x","count":1},{"value":"y","count":1}]}`, ""},
		{"value filter", "/tags/dc?filter=y", 200, `{"tag":"dc","values":[{"value":"y","count":1}]}`, ""},
		{"filter matching nothing on a known tag", "/tags/dc?filter=z", 200, `{"tag":"dc","values":[]}`, ""},
		{"name counts plain names too", "/tags/name", 200, `{"tag":"name","values":[{"value":"cpu","count":2},{"value":"mem","count":1},{"value":"plain.metric","count":1}]}`, ""},
		{"unknown tag", "/tags/nope", 404, "", `no series has the tag "nope"`},
		{"tag only in a non-normal name", "/tags/net", 404, "", "no series has the tag"},
		{"bad value regex", "/tags/dc?filter=" + url.QueryEscape("[a"), 400, "", "not a valid regular expression"},

		// GET /tags/autoComplete/tags
		{"autocomplete tags", "/tags/autoComplete/tags", 200, `["dc","host","name"]`, ""},
		{"tag prefix", "/tags/autoComplete/tags?tagPrefix=h", 200, `["host"]`, ""},
		{"tag prefix is literal", "/tags/autoComplete/tags?tagPrefix=.", 200, `[]`, ""},
		{"tags limit", "/tags/autoComplete/tags?limit=1", 200, `["dc"]`, ""},
		{"expr restricts and drops its own tag", "/tags/autoComplete/tags?expr=dc%3Dx", 200, `["host","name"]`, ""},
		{"expr on name", "/tags/autoComplete/tags?expr=name%3Dmem", 200, `["host"]`, ""},
		{"expr != keeps series without the tag", "/tags/autoComplete/tags?expr=dc!%3Dx&expr=name%3Dplain.metric", 200, `[]`, ""},
		{"expr != with prefix", "/tags/autoComplete/tags?expr=host!%3Da&tagPrefix=d", 200, `["dc"]`, ""},
		{"regex operator refused", "/tags/autoComplete/tags?expr=dc%3D~x", 400, "", "operator =~"},
		{"negated regex operator refused", "/tags/autoComplete/tags?expr=dc!%3D~x", 400, "", "operator !=~"},
		{"not an expression", "/tags/autoComplete/tags?expr=dc", 400, "", "not a tag expression"},
		{"limit too small", "/tags/autoComplete/tags?limit=0", 400, "", "between 1 and 10000"},
		{"limit too large", "/tags/autoComplete/tags?limit=10001", 400, "", "between 1 and 10000"},

		// GET /tags/autoComplete/values
		{"values of a tag", "/tags/autoComplete/values?tag=host", 200, `["a","b"]`, ""},
		{"value prefix", "/tags/autoComplete/values?tag=dc&valuePrefix=y", 200, `["y"]`, ""},
		{"values under an expr", "/tags/autoComplete/values?tag=host&expr=dc%3Dx", 200, `["a"]`, ""},
		{"values under expr[]", "/tags/autoComplete/values?tag=host&" + url.QueryEscape("expr[]") + "=dc%3Dy", 200, `["b"]`, ""},
		{"name values", "/tags/autoComplete/values?tag=name", 200, `["cpu","mem","plain.metric"]`, ""},
		{"name values under two exprs", "/tags/autoComplete/values?tag=name&expr=host%3Da&expr=dc!%3Dx", 200, `["mem"]`, ""},
		{"empty value: tag absent", "/tags/autoComplete/values?tag=host&expr=dc%3D", 200, `["a"]`, ""},
		{"!= empty value: tag present", "/tags/autoComplete/values?tag=host&expr=dc!%3D", 200, `["a","b"]`, ""},
		{"values limit", "/tags/autoComplete/values?tag=name&limit=1", 200, `["cpu"]`, ""},
		{"unknown tag has no values", "/tags/autoComplete/values?tag=nope", 200, `[]`, ""},
		{"missing tag", "/tags/autoComplete/values", 400, "", "missing ?tag="},
		{"regex operator refused in values", "/tags/autoComplete/values?tag=host&expr=dc%3D~x", 400, "", "operator =~"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := e.get(tc.path)
			require.Equal(t, tc.code, res.StatusCode, body)
			require.Contains(t, res.Header.Get("Content-Type"), "application/json")
			if tc.code != http.StatusOK {
				var ae apiError
				require.NoError(t, json.Unmarshal([]byte(body), &ae), body)
				require.Contains(t, ae.Error, tc.errHas)
				return
			}
			require.JSONEq(t, tc.want, body)
		})
	}
}

// The tag routes answer with the same Content-Type and caching headers as /api/v1/metrics.
func TestTagsHeadersLikeMetrics(t *testing.T) {
	e := tagsEnv(t)
	ref, _ := e.get("/api/v1/metrics")
	require.Equal(t, http.StatusOK, ref.StatusCode)
	for _, path := range []string{"/tags", "/tags/host", "/tags/autoComplete/tags", "/tags/autoComplete/values?tag=host"} {
		t.Run(path, func(t *testing.T) {
			res, _ := e.get(path)
			require.Equal(t, http.StatusOK, res.StatusCode)
			for _, h := range []string{"Content-Type", "Cache-Control", "ETag", "Expires", "Pragma", "Vary", "X-Content-Type-Options"} {
				require.Equal(t, ref.Header.Get(h), res.Header.Get(h), h)
			}
		})
	}
}

// Every tag request is served from the name cache: 100,000 names cost one read of the list
// and no Redis command per request, and each answer takes well under a second.
func TestTagsFromNameCache100k(t *testing.T) {
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	f := &fakeNames{}
	for i := range 100_000 {
		switch i % 4 {
		case 0:
			f.names = append(f.names, fmt.Sprintf("plain.m%d", i))
		default:
			f.names = append(f.names, fmt.Sprintf("cpu%d;dc=dc%d;host=h%d", i%10, i%3, i))
		}
	}
	e.server.names = &nameCache{list: f.list, count: f.count, fresh: time.Hour, ttl: time.Hour, now: time.Now}
	for _, tc := range []struct {
		path, want string
	}{
		{"/tags", `[{"tag":"dc"},{"tag":"host"},{"tag":"name"}]`},
		{"/tags/dc?filter=dc0", `{"tag":"dc","values":[{"value":"dc0","count":25000}]}`},
		{"/tags/autoComplete/tags?expr=dc%3Ddc1", `["host","name"]`},
		{"/tags/autoComplete/values?tag=host&valuePrefix=h9999&expr=dc!%3Ddc2", `["h9999","h99990","h99991","h99993","h99994","h99997","h99999"]`},
	} {
		t0 := time.Now()
		res, body := e.get(tc.path)
		took := time.Since(t0)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.JSONEq(t, tc.want, body, tc.path)
		require.Less(t, took, time.Second, tc.path)
		t.Logf("%s: %s", tc.path, took)
	}
	require.Equal(t, 1, f.lists, "the list is read once")
	require.Zero(t, f.counts, "no count within the fresh period")
}

func TestTagsParseExpr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tagExpr
		err  string
	}{
		{"dc=x", tagExpr{tag: "dc", value: "x"}, ""},
		{"dc!=x", tagExpr{tag: "dc", value: "x", not: true}, ""},
		{"dc=", tagExpr{tag: "dc"}, ""},
		{"name=a.b", tagExpr{tag: "name", value: "a.b"}, ""},
		{"dc=a=b", tagExpr{tag: "dc", value: "a=b"}, ""},
		{"dc=~x", tagExpr{}, "=~"},
		{"dc!=~x", tagExpr{}, "!=~"},
		{"=x", tagExpr{}, "not a tag expression"},
		{"dc", tagExpr{}, "not a tag expression"},
		{"dc!x", tagExpr{}, "not a tag expression"},
		{"d;c=x", tagExpr{}, "not a tag expression"},
		{"dc=x;y", tagExpr{}, "cannot contain ';'"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTagExpr(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func BenchmarkTags100k(b *testing.B) {
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("cpu%d;dc=dc%d;host=h%d", i%10, i%3, i)
	}
	exprs := []tagExpr{{tag: "dc", value: "dc1"}}
	b.Run("keys", func(b *testing.B) {
		for range b.N {
			tagKeys(names, exprs, nil, "")
		}
	})
	b.Run("values", func(b *testing.B) {
		for range b.N {
			tagValueCounts(names, "dc", nil)
		}
	})
}
