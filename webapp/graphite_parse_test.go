package webapp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGraphiteParseTarget(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.b.c", "a.b.c"},
		{"a.{b,c}.d", "a.{b,c}.d"},
		{"a.b*.[a-z]?", "a.b*.[a-z]?"},
		{"sumSeries(a.*)", "sumSeries(a.*)"},
		{"sumSeries(a.{x,y}.c, b.c)", "sumSeries(a.{x,y}.c,b.c)"},
		{"scale(a, 2.5)", "scale(a,2.5)"},
		{"scale(a,-1e3)", "scale(a,-1e3)"},
		{`alias(a, "my name")`, `alias(a,"my name")`},
		{`alias(a,'it\'s')`, `alias(a,"it's")`},
		{"summarize(a, '1h', 'max', false)", `summarize(a,"1h","max",false)`},
		{"keepLastValue(a, limit=3)", "keepLastValue(a,limit=3)"},
		{"aliasByNode(sumSeries(a.*.c), 0, -1)", "aliasByNode(sumSeries(a.*.c),0,-1)"},
		{"  movingAverage( a.b , 5 )  ", "movingAverage(a.b,5)"},
		{"group()", "group()"},
		{"kale.expected(a.b)", "kale.expected(a.b)"},
		{"a-b_c:d#e", "a-b_c:d#e"},
		{`aliasSub(a,'^a\.(\w)$','\1')`, `aliasSub(a,"^a\.(\w)$","\1")`},
		{`alias(a,'say "hi"')`, `alias(a,'say "hi"')`},
	} {
		e, err := parseTarget(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, e.String(), tc.in)
	}
	e, err := parseTarget("scale(a.b, 2)")
	require.NoError(t, err)
	require.Equal(t, gCall, e.kind)
	require.Equal(t, gPath, e.args[0].kind)
	require.Equal(t, gNumber, e.args[1].kind)
	require.Equal(t, 2.0, e.args[1].num)
	e, err = parseTarget("f(true, False, 'x')")
	require.NoError(t, err)
	require.Equal(t, []gKind{gBool, gBool, gString}, []gKind{e.args[0].kind, e.args[1].kind, e.args[2].kind})

	for _, bad := range []string{
		"", "   ", "sumSeries(a", "sumSeries(a,)", "sumSeries(,a)", "a)", "a.{b,c", "a.b}", "(a)",
		"f(a b)", "alias(a, 'x)", "f(x=1, a)", "f(x=1, x=2)", "1f(a)", "f(a))", "a,b",
		strings.Repeat("f(", 60) + "a" + strings.Repeat(")", 60),
		strings.Repeat("a", maxTargetLen+1),
	} {
		_, err := parseTarget(bad)
		require.Error(t, err, "%q", bad)
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"a.b.c", "sumSeries(a.{b,c}.*)", `alias(scale(a,2),"x")`, "summarize(a,'1h','max',false)", "f(x=1)", "a.[a-z]?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseTarget(s)
		if err != nil {
			return
		}
		// what the parser prints, it parses back to the same tree
		if strings.Contains(s, `\\`) {
			return // a string with backslashes need not print back to the same text
		}
		again, err := parseTarget(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q which does not parse: %v", s, e.String(), err)
		}
		if e.kwargs == nil && again.String() != e.String() {
			t.Fatalf("%q: %q != %q", s, again.String(), e.String())
		}
	})
}

func TestGraphiteTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 45, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"now", now.Unix()},
		{"", now.Unix()},
		{"-1h", now.Unix() - 3600},
		{"-2d", now.Unix() - 2*86400},
		{"-30min", now.Unix() - 1800},
		{"-45s", now.Unix() - 45},
		{"-1w", now.Unix() - 7*86400},
		{"-1mon", now.Unix() - 30*86400},
		{"-1y", now.Unix() - 365*86400},
		{"+1h", now.Unix() + 3600},
		{"now-1h", now.Unix() - 3600},
		{"1700000000", 1700000000},
		{"20260301", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()},
		{"13:45_20260301", time.Date(2026, 3, 1, 13, 45, 0, 0, time.UTC).Unix()},
	} {
		got, err := parseGraphiteTime(tc.in, now, time.UTC)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"-1x", "yesterdayish", "-h", "25:00_20260301", "now-", "-1m"} {
		_, err := parseGraphiteTime(bad, now, time.UTC)
		require.Error(t, err, bad)
	}
	d, err := parseInterval("5min")
	require.NoError(t, err)
	require.EqualValues(t, 300, d)
}

func TestGraphiteGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		ok        bool
	}{
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.x.c", false},
		{"a.*", "a.b.c", false},
		{"a.b?", "a.bx", true},
		{"a.b?", "a.b", false},
		{"a.[a-c]x", "a.bx", true},
		{"a.[a-c]x", "a.dx", false},
		{"a.[!a-c]x", "a.dx", true},
		{"a.{foo,bar}.c", "a.bar.c", true},
		{"a.{foo,bar}.c", "a.baz.c", false},
		{"a.b+c", "a.b+c", true},
		{"a.b+c", "a.bbc", false},
	} {
		re, err := globRegexp(tc.pat)
		require.NoError(t, err)
		require.Equal(t, tc.ok, re.MatchString(tc.name), "%s ~ %s", tc.pat, tc.name)
	}
	for _, bad := range []string{"a.{b", "a.b}", "a.[b"} {
		_, err := globRegexp(bad)
		require.Error(t, err, bad)
	}
}
