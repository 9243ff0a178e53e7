// Package tags parses, validates and normalises Graphite 1.1 tagged series names
// ("name;tag1=value1;tag2=value2"), the syntax every labelled ingest format (Prometheus
// remote_write, InfluxDB line protocol, DogStatsD tags) is mapped onto. It sits between
// horizon's decoders and the writer, and replaces graphite-web's and carbon's TaggedSeries
// parse/format, which Skyline never had: there, "a;x=1;y=2" and "a;y=2;x=1" were two series.
//
// The rules are graphite-web's (TaggedSeries.parse_carbon, validateTagAndValue and format):
//
//   - the name is everything before the first ';' and must not be empty;
//   - every following segment is "key=value", split at the first '='; the key must not be
//     empty nor contain any of ";!^=", the value must not be empty, must not contain ';'
//     and must not start with '~';
//   - a key repeated later in the name wins over its earlier value (a Python dict);
//   - a "name" tag is dropped: graphite stores the series name itself under that key;
//   - the normal form is the name followed by ";key=value" for every tag, the segments
//     sorted as strings (graphite's sorted(';%s=%s')); this is ordering by key except for
//     a key that is a prefix of another one followed by a byte below '=' ("a.b" before
//     "a"), exactly as graphite-web and carbon order them.
//
// Kale's own name rule (metric.CheckName: charset and length) is checked by the callers on
// the whole normalised name, so '!' and '^' can never reach the store anyway.
package tags

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors returned by Parse, Normalize and Format; test with errors.Is.
var (
	ErrNoName     = errors.New("tagged series has no metric name")
	ErrBadSegment = errors.New("tag segment is not key=value")
	ErrBadTag     = errors.New("tag key is empty or contains one of \";!^=\"")
	ErrBadValue   = errors.New("tag value is empty, contains \";\" or starts with \"~\"")
)

// Tag is one key=value pair of a tagged series.
type Tag struct {
	Key, Value string
}

// Validate checks one tag with graphite-web's validateTagAndValue rules.
func Validate(key, value string) error {
	if key == "" || strings.ContainsAny(key, ";!^=") {
		return fmt.Errorf("cannot use tag %q: %w", key, ErrBadTag)
	}
	if value == "" || value[0] == '~' || strings.IndexByte(value, ';') >= 0 {
		return fmt.Errorf("cannot use value %q of tag %q: %w", value, key, ErrBadValue)
	}
	return nil
}

// Parse splits a series name into its metric name and its tags, validated, in their
// original order (duplicates and a "name" tag included). A name without ';' has no tags.
func Parse(series string) (name string, tags []Tag, err error) {
	name, rest, tagged := strings.Cut(series, ";")
	if name == "" {
		return "", nil, fmt.Errorf("cannot parse series %q: %w", series, ErrNoName)
	}
	if !tagged {
		return name, nil, nil
	}
	tags = make([]Tag, 0, strings.Count(rest, ";")+1)
	for seg := range strings.SplitSeq(rest, ";") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("cannot parse series %q: segment %q: %w", series, seg, ErrBadSegment)
		}
		if err := Validate(k, v); err != nil {
			return "", nil, fmt.Errorf("cannot parse series %q: %w", series, err)
		}
		tags = append(tags, Tag{k, v})
	}
	return name, tags, nil
}

// Normalize returns series in its normal form: tags sorted, duplicates resolved (the last
// one wins), a "name" tag dropped. An untagged name is returned unchanged (only checked
// to be non-empty), so Normalize is cheap on Graphite's plain names.
func Normalize(series string) (string, error) {
	if strings.IndexByte(series, ';') < 0 {
		if series == "" {
			return "", fmt.Errorf("cannot parse series %q: %w", series, ErrNoName)
		}
		return series, nil
	}
	name, tags, err := Parse(series)
	if err != nil {
		return "", err
	}
	b, err := AppendFormat(make([]byte, 0, len(series)), name, tags)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// IsNormal reports whether series is valid and already in its normal form, that is whether
// Normalize would return it unchanged. It allocates nothing, so the writer checks every
// tagged name with it and normalises only the ones that are not (a remote_write or Influx
// name, built by Format, always is).
func IsNormal(series string) bool {
	name, rest, tagged := strings.Cut(series, ";")
	if name == "" {
		return false
	}
	if !tagged {
		return true
	}
	var prev Tag
	for i := 0; ; i++ {
		seg, more, next := strings.Cut(rest, ";")
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "name" || Validate(k, v) != nil {
			return false
		}
		t := Tag{k, v}
		if i > 0 && compare(prev, t) >= 0 {
			return false
		}
		if !next {
			return true
		}
		prev, rest = t, more
	}
}

// Format builds the normalised tagged name of name and tags (validated; the slice is
// sorted in place). It is the helper the labelled formats use to name their series.
func Format(name string, tags []Tag) (string, error) {
	n := len(name)
	for _, t := range tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	b, err := AppendFormat(make([]byte, 0, n), name, tags)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendFormat appends the normalised tagged name of name and tags to dst: name, then
// AppendTags. It allocates nothing when dst has room.
func AppendFormat(dst []byte, name string, tags []Tag) ([]byte, error) {
	if name == "" {
		return dst, fmt.Errorf("cannot format series: %w", ErrNoName)
	}
	return AppendTags(append(dst, name...), tags)
}

// AppendTags validates tags, sorts them in place into graphite's order, resolves duplicate
// keys (the one that came last in tags wins), drops a "name" tag and appends ";key=value"
// for each to dst. Callers with a fixed tag set (an Influx line's tags, shared by all its
// fields) build this suffix once and append it to every series name.
func AppendTags(dst []byte, tags []Tag) ([]byte, error) {
	for _, t := range tags {
		if err := Validate(t.Key, t.Value); err != nil {
			return dst, err
		}
	}
	if len(tags) > 1 {
		// Stable, so equal keys keep their input order and the last is the one kept.
		slices.SortStableFunc(tags, compare)
	}
	for i, t := range tags {
		if t.Key == "name" || i+1 < len(tags) && tags[i+1].Key == t.Key {
			continue
		}
		dst = append(dst, ';')
		dst = append(dst, t.Key...)
		dst = append(dst, '=')
		dst = append(dst, t.Value...)
	}
	return dst, nil
}

// compare orders tags as graphite-web's sorted(";%s=%s" % (key, value)) orders the
// formatted segments, except that equal keys compare equal (duplicates are resolved by
// position, not by value). Keys never contain '=' (Validate), so comparing key+"=" decides
// every pair of distinct keys.
func compare(a, b Tag) int {
	if a.Key == b.Key {
		return 0
	}
	n := min(len(a.Key), len(b.Key))
	if c := strings.Compare(a.Key[:n], b.Key[:n]); c != 0 {
		return c
	}
	// One key is a prefix of the other: the shorter continues with '='.
	if len(a.Key) < len(b.Key) {
		return cmpByte('=', b.Key[n])
	}
	return cmpByte(a.Key[n], '=')
}

func cmpByte(x, y byte) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
