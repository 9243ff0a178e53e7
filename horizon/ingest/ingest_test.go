package ingest

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Reason
		ok   bool
	}{
		{"a.b.c", 0, true},
		{"stats.timers.api-v2.p99:latency;env=prod", 0, true},
		{"a_b/c~d@e#f%g+h,i", 0, true},
		{"", BadName, false},
		{"has space", BadName, false},
		{"quote\"", BadName, false},
		{"<script>", BadName, false},
		{"tab\t", BadName, false},
		{"caf\xc3\xa9", BadName, false}, // valid UTF-8 but outside the charset
		{"\xff\xfe", BadName, false},
		{strings.Repeat("x", 10), 0, true},
		{strings.Repeat("x", 11), NameTooLong, false},
	} {
		max := 64
		if strings.HasPrefix(tc.name, "xxxxx") {
			max = 10
		}
		r, err := CheckName([]byte(tc.name), max)
		if tc.ok {
			require.NoError(t, err, "%q", tc.name)
			continue
		}
		require.Error(t, err, "%q", tc.name)
		require.Equal(t, tc.want, r, "%q", tc.name)
	}
}

func TestCheckFinite(t *testing.T) {
	require.NoError(t, CheckFinite("value", 1.5))
	require.ErrorContains(t, CheckFinite("value", math.NaN()), "value is NaN")
	require.Error(t, CheckFinite("timestamp", math.Inf(-1)))
}

func TestRejectsAndCount(t *testing.T) {
	var r Rejects
	require.NoError(t, r.Err())
	r.Add(BadName, errors.New("first"))
	r.Add(BadName, errors.New("second"))
	r.Add(NotFinite, errors.New("third"))
	got := map[Reason]int{}
	n := Count(r.Err(), func(reason Reason, c int) { got[reason] += c })
	require.Equal(t, 3, n)
	require.Equal(t, map[Reason]int{BadName: 2, NotFinite: 1}, got)
	require.ErrorContains(t, r.Err(), "rejected 3 item(s), first: first")

	got = map[Reason]int{}
	require.Equal(t, 1, Count(errors.New("plain"), func(reason Reason, c int) { got[reason] += c }))
	require.Equal(t, map[Reason]int{Malformed: 1}, got)
	require.Equal(t, map[Reason]int{TooLarge: 1}, func() map[Reason]int {
		m := map[Reason]int{}
		Count(Fail(TooLarge, errors.New("big")), func(reason Reason, c int) { m[reason] += c })
		return m
	}())
}

func TestReasonNames(t *testing.T) {
	for r := range NumReasons {
		require.NotEmpty(t, reasonNames[r], "reason %d has a name", r)
		require.NotContains(t, r.String(), "reason(")
	}
	require.Equal(t, "reason(99)", Reason(99).String())
}
