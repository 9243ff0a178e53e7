// Package statsd is horizon's StatsD input (UDP port 8125, --statsd-udp): a pure decoder of
// StatsD lines and an aggregator with Etsy statsd's semantics and default names, flushed
// every --statsd-flush into ordinary points for the writer. Skyline never read StatsD; Etsy,
// which wrote Skyline, also wrote StatsD and put Graphite behind it, so the names here are the
// ones Etsy's graphite backend produced (legacyNamespace): stats.<name>, stats_counts.<name>,
// stats.gauges.<name>, stats.timers.<name>.<stat> and stats.sets.<name>.count.
//
// Decode does no I/O and keeps no state; the Aggregator is safe for concurrent use by a UDP
// listener's goroutines and the flush loop.
package statsd

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/kale-project/kale/horizon/ingest"
)

// Kind is a StatsD metric type.
type Kind uint8

// The StatsD metric types Etsy's statsd understands.
const (
	Counter Kind = iota + 1 // "c"
	Gauge                   // "g"
	Timer                   // "ms", and "h" (histogram, an alias)
	Set                     // "s"
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Timer:
		return "timer"
	case Set:
		return "set"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// NameOverhead is the room Decode keeps in lim.MaxNameLen for the longest prefix and suffix
// the aggregator adds ("stats.timers." and ".sum_squares_90"): a key longer than
// lim.MaxNameLen-NameOverhead is rejected as ingest.NameTooLong.
const NameOverhead = 32

// Sample is one decoded StatsD value.
type Sample struct {
	Name   string  // the key, sanitised as Etsy's statsd does
	Kind   Kind    //
	Value  float64 // counter increment, gauge value or delta, timer milliseconds
	Delta  bool    // a gauge value written with a leading '+' or '-': add it, do not set it
	Rate   float64 // the sample rate in (0, 1]; 1 when not given
	Member string  // a set's member (the raw value)
}

// Decode decodes b, one or more StatsD lines separated by "\n" (one UDP datagram), and calls
// emit for every good value.
//
// A line is "key:value|type[|@rate]"; several "value|type[|@rate]" groups may follow one key,
// separated by ':' ("a:1|c:20|ms"), as Etsy's statsd allows. type is c, g, ms, h or s. A
// counter's empty value counts 1; a gauge value with a leading sign is a delta; a set's value
// is any string. The key is sanitised as Etsy's statsd does (keyNameSanitize): runs of
// whitespace become '_', '/' becomes '-', and every byte outside [A-Za-z0-9_.-] is removed; an
// empty result is ingest.BadName, a key longer than lim.MaxNameLen-NameOverhead is
// ingest.NameTooLong. Values must be decimal numbers (ingest.Malformed otherwise, NaN and ±Inf
// are ingest.NotFinite); the rate must be in (0, 1]. Unknown types, DogStatsD extensions
// ("|#tags", "|c" with a fourth field) and lines without '|' are ingest.Malformed, as Etsy
// counts them in bad_lines_seen. Blank lines and a trailing "\r" are ignored.
//
// len(b) > lim.MaxPayload rejects the whole datagram as ingest.TooLarge.
func Decode(b []byte, lim ingest.Limits, emit func(Sample)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode statsd datagram: %d bytes exceed the limit of %d", len(b), lim.MaxPayload))
	}
	var rej ingest.Rejects
	var name []byte
	for len(b) > 0 {
		line := b
		b = nil
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, b = line[:i], line[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			rej.Add(ingest.Malformed, fmt.Errorf("cannot decode statsd line %q: no ':'", line))
			continue
		}
		name = sanitize(name[:0], line[:colon])
		if len(name) == 0 {
			rej.Add(ingest.BadName, fmt.Errorf("cannot decode statsd line %q: empty key", line))
			continue
		}
		if max := lim.MaxNameLen - NameOverhead; len(name) > max {
			rej.Add(ingest.NameTooLong, fmt.Errorf("cannot decode statsd line: key of %d bytes exceeds the limit of %d", len(name), max))
			continue
		}
		key := string(name)
		for group := range bytes.SplitSeq(line[colon+1:], []byte(":")) {
			s, reason, err := parseGroup(group)
			if err != nil {
				rej.Add(reason, fmt.Errorf("cannot decode statsd line %q: %w", line, err))
				continue
			}
			s.Name = key
			emit(s)
		}
	}
	return rej.Err()
}

// parseGroup parses "value|type[|@rate]".
func parseGroup(g []byte) (Sample, ingest.Reason, error) {
	var f [4][]byte
	n := 0
	for field := range bytes.SplitSeq(g, []byte("|")) {
		if n == len(f) {
			return Sample{}, ingest.Malformed, fmt.Errorf("too many '|' fields")
		}
		f[n] = field
		n++
	}
	if n < 2 {
		return Sample{}, ingest.Malformed, fmt.Errorf("no type")
	}
	if n > 3 {
		return Sample{}, ingest.Malformed, fmt.Errorf("unexpected field %q", f[3])
	}
	s := Sample{Rate: 1}
	switch string(f[1]) {
	case "c":
		s.Kind = Counter
	case "g":
		s.Kind = Gauge
	case "ms", "h":
		s.Kind = Timer
	case "s":
		s.Kind = Set
	default:
		return Sample{}, ingest.Malformed, fmt.Errorf("unknown type %q", f[1])
	}
	if n == 3 {
		r := f[2]
		if len(r) < 2 || r[0] != '@' {
			return Sample{}, ingest.Malformed, fmt.Errorf("bad sample rate %q", r)
		}
		rate, reason, err := parseNumber(r[1:])
		if err != nil {
			return Sample{}, reason, fmt.Errorf("bad sample rate %q: %w", r, err)
		}
		if !(rate > 0 && rate <= 1) {
			return Sample{}, ingest.Malformed, fmt.Errorf("sample rate %q outside (0, 1]", r)
		}
		s.Rate = rate
	}
	v := f[0]
	switch s.Kind {
	case Set:
		s.Member = string(v)
		return s, 0, nil
	case Counter:
		if len(v) == 0 {
			s.Value = 1
			return s, 0, nil
		}
	case Gauge:
		s.Delta = len(v) > 0 && (v[0] == '+' || v[0] == '-')
	}
	x, reason, err := parseNumber(v)
	if err != nil {
		return Sample{}, reason, err
	}
	s.Value = x
	return s, 0, nil
}

// parseNumber accepts decimal numbers only (no hex, no underscores, no "inf"/"nan").
func parseNumber(b []byte) (float64, ingest.Reason, error) {
	if len(b) == 0 {
		return 0, ingest.Malformed, fmt.Errorf("empty value")
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, ingest.Malformed, fmt.Errorf("value %q is not a decimal number", b)
		}
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if math.IsInf(x, 0) {
		return 0, ingest.NotFinite, fmt.Errorf("value %q is not finite", b)
	}
	if err != nil {
		return 0, ingest.Malformed, fmt.Errorf("value %q is not a decimal number", b)
	}
	return x, 0, nil
}

// sanitize appends key to dst as Etsy's statsd sanitizeKeyName does: runs of ASCII
// whitespace become "_", "/" becomes "-", and bytes outside [a-zA-Z_\-0-9\.] are removed.
func sanitize(dst, key []byte) []byte {
	inSpace := false
	for _, c := range key {
		if c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' {
			if !inSpace {
				dst = append(dst, '_')
			}
			inSpace = true
			continue
		}
		inSpace = false
		switch {
		case c == '/':
			dst = append(dst, '-')
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
			dst = append(dst, c)
		}
	}
	return dst
}
