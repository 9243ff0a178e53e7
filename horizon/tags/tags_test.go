package tags

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeGood(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.b.c", "a.b.c"},
		{"name;b=2;a=1", "name;a=1;b=2"},
		{"name;a=1;b=2", "name;a=1;b=2"},
		{"cpu;host=a;dc=x;env=prod", "cpu;dc=x;env=prod;host=a"},
		{"m;a=1;a=2", "m;a=2"},         // the last duplicate wins (a Python dict)
		{"m;name=other;z=1", "m;z=1"},  // graphite stores the name under "name"
		{"m;a=x=y", "m;a=x=y"},         // split at the first '='
		{"m;a=v~1", "m;a=v~1"},         // '~' only refused as the first byte
		{"m;a=1;a.b=2", "m;a.b=2;a=1"}, // graphite's order of ";a.b=" and ";a="
		{"m;ab=1;a=2", "m;a=2;ab=1"},   // ...and of ";a=" and ";ab="
		{"kale_horizon_received_total;protocol=pickle-tcp;job=kale;instance=h:1500",
			"kale_horizon_received_total;instance=h:1500;job=kale;protocol=pickle-tcp"},
	} {
		got, err := Normalize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestNormalizeBad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", ErrNoName},
		{";a=1", ErrNoName},
		{"m;", ErrBadSegment},
		{"m;a", ErrBadSegment},
		{"m;=1", ErrBadSegment},
		{"m;a=1;;b=2", ErrBadSegment},
		{"m;a=", ErrBadValue},
		{"m;a=~x", ErrBadValue},
		{"m;a!=1", ErrBadTag},
		{"m;a^b=1", ErrBadTag},
	} {
		_, err := Normalize(tc.in)
		require.ErrorIs(t, err, tc.want, tc.in)
	}
}

func TestFormat(t *testing.T) {
	got, err := Format("up", []Tag{{"job", "node"}, {"instance", "h:9100"}})
	require.NoError(t, err)
	require.Equal(t, "up;instance=h:9100;job=node", got)

	got, err = Format("up", nil)
	require.NoError(t, err)
	require.Equal(t, "up", got)

	_, err = Format("", []Tag{{"a", "1"}})
	require.ErrorIs(t, err, ErrNoName)
	_, err = Format("up", []Tag{{"a", ""}})
	require.ErrorIs(t, err, ErrBadValue)
	_, err = Format("up", []Tag{{"a;b", "1"}})
	require.ErrorIs(t, err, ErrBadTag)
}

func TestAppendTagsAllocs(t *testing.T) {
	tags := []Tag{{"job", "node"}, {"instance", "h:9100"}, {"dc", "x"}}
	buf := make([]byte, 0, 128)
	n := testing.AllocsPerRun(100, func() {
		var err error
		buf, err = AppendFormat(buf[:0], "up", tags)
		if err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, n)
}

func TestIsNormal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"a.b.c", true},
		{"name;a=1;b=2", true},
		{"name;b=2;a=1", false},
		{"m;a=1;a=2", false},    // a duplicate
		{"m;name=x;z=1", false}, // a "name" tag
		{"m;a.b=2;a=1", true},   // graphite's order
		{"m;a=1;a.b=2", false},  // ...not byte order of the keys
		{"", false},             // no name
		{"m;", false},           // empty segment
		{"m;a=~x", false},       // bad value
		{"m;a!=1", false},       // bad key
		{"m;a=x=y;b=1", true},   // split at the first '='
	} {
		require.Equal(t, tc.want, IsNormal(tc.in), tc.in)
		if n, err := Normalize(tc.in); err == nil {
			require.Equal(t, n == tc.in, tc.want, tc.in)
		}
	}
	s := "kale_horizon_received_total;instance=localhost:1500;job=kale;protocol=pickle-tcp"
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = IsNormal(s) }))
}

func TestParse(t *testing.T) {
	name, tags, err := Parse("m;b=2;a=1;b=3")
	require.NoError(t, err)
	require.Equal(t, "m", name)
	require.Equal(t, []Tag{{"b", "2"}, {"a", "1"}, {"b", "3"}}, tags)
}

// FuzzNormalize checks that normalising is idempotent and independent of the order of the
// tags (with distinct keys), and that its output always parses.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a", "name;b=2;a=1", "m;a=1;a.b=2;ab=3", "m;a=1;a=2", "m;;", "m;a=~", "m;name=x;a=b=c"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		n, err := Normalize(s)
		if err != nil {
			require.False(t, IsNormal(s), "%q is refused by Normalize", s)
			return
		}
		require.True(t, IsNormal(n), "normal form %q", n)
		require.Equal(t, s == n, IsNormal(s), "%q normalises to %q", s, n)
		n2, err := Normalize(n)
		require.NoError(t, err, "normal form %q does not parse", n)
		require.Equal(t, n, n2, "not idempotent")

		name, tags, err := Parse(s)
		require.NoError(t, err)
		// Keep the last of every key, then shuffle: the normal form must not change.
		last := map[string]string{}
		for _, tg := range tags {
			last[tg.Key] = tg.Value
		}
		uniq := make([]Tag, 0, len(last))
		for k, v := range last {
			uniq = append(uniq, Tag{k, v})
		}
		rand.New(rand.NewPCG(seed, 0)).Shuffle(len(uniq), func(i, j int) { uniq[i], uniq[j] = uniq[j], uniq[i] })
		var sb strings.Builder
		sb.WriteString(name)
		for _, tg := range uniq {
			sb.WriteString(";" + tg.Key + "=" + tg.Value)
		}
		n3, err := Normalize(sb.String())
		require.NoError(t, err)
		require.Equal(t, n, n3, "depends on tag order")
	})
}

func BenchmarkIsNormal(b *testing.B) {
	s := "kale_horizon_received_total;instance=localhost:1500;job=kale;protocol=pickle-tcp"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if !IsNormal(s) {
			b.Fatal("not normal")
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	s := "kale_horizon_received_total;protocol=pickle-tcp;job=kale;instance=localhost:1500"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize(s); err != nil {
			b.Fatal(err)
		}
	}
}
