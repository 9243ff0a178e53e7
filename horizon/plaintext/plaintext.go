// Package plaintext is horizon's pure decoder for the Graphite plaintext protocol
// ("name value timestamp\n", port 2003), sitting between the plaintext TCP/UDP listeners and
// the writer; it replaces the carbon-relay hop that Skyline needed in front of its pickle
// listener to accept plaintext senders.
//
// The package does no I/O: listeners frame bytes and hand them to Decode (a chunk of whole
// lines, or one datagram) or DecodeLine (one line).
package plaintext

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// LineSlack is how many bytes a line may have beyond Limits.MaxNameLen for the value, the
// timestamp and the separators. Longer lines are rejected as ingest.TooLarge before any field
// is parsed.
const LineSlack = 64

// ErrBlank is returned by DecodeLine for a line holding only whitespace. It is not an
// *ingest.Error: blank lines are skipped, not counted as rejections.
var ErrBlank = errors.New("blank line")

// Decode decodes b, one or more plaintext lines "name value timestamp" separated by "\n",
// and calls emit for every good line in order.
//
// Fields are separated by runs of spaces or tabs; leading and trailing whitespace, a "\r"
// before the "\n", blank lines and a last line without "\n" are tolerated. The name must pass
// ingest.CheckName. A number that is a plain decimal integer (optional sign) fitting int64 is
// kept as an int (metric.Int); any other decimal number becomes a float64
// (metric.Float). NaN, ±Inf (including "nan", "inf" and out-of-range exponents), hex
// floats and underscores are rejected. Any finite timestamp is accepted, negative ones
// included (the writer drops old points); carbon's "-1 means now" is not implemented.
//
// Limits: len(b) > lim.MaxPayload rejects the whole payload as ingest.TooLarge; a line
// longer than lim.MaxNameLen+LineSlack is rejected as ingest.TooLarge without being parsed.
// A bad line is counted in the returned *ingest.Error and decoding continues with the next
// line. The only allocation per good line is the name string.
func Decode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode plaintext: payload of %d bytes exceeds the limit of %d", len(b), lim.MaxPayload))
	}
	var rej ingest.Rejects
	for len(b) > 0 {
		line := b
		b = nil
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, b = line[:i], line[i+1:]
		}
		p, reason, err := decodeLine(line, lim)
		switch {
		case err == nil:
			emit(p)
		case err != ErrBlank:
			rej.Add(reason, err)
		}
	}
	return rej.Err()
}

// DecodeLine decodes one line without its "\n" (a trailing "\r" is tolerated); see Decode for
// the format and limits. A bad line returns an *ingest.Error carrying one count of its
// reason; a blank line returns ErrBlank.
func DecodeLine(line []byte, lim ingest.Limits) (metric.Point, error) {
	p, reason, err := decodeLine(line, lim)
	if err != nil && err != ErrBlank {
		return metric.Point{}, ingest.Fail(reason, err)
	}
	return p, err
}

// space marks the field separators: ASCII whitespace except "\n".
var space = [256]bool{' ': true, '\t': true, '\r': true, '\v': true, '\f': true}

func isSpace(c byte) bool { return space[c] }

func decodeLine(line []byte, lim ingest.Limits) (metric.Point, ingest.Reason, error) {
	if len(line) > lim.MaxNameLen+LineSlack {
		return metric.Point{}, ingest.TooLarge, fmt.Errorf("cannot decode plaintext line: %d bytes exceed the limit of %d", len(line), lim.MaxNameLen+LineSlack)
	}
	var fields [3][]byte
	n := 0
	for i := 0; i < len(line); {
		if isSpace(line[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		if n == len(fields) {
			return metric.Point{}, ingest.Malformed, fmt.Errorf("cannot decode plaintext line %q: want 3 fields (name value timestamp), got more", line)
		}
		fields[n] = line[i:j]
		n++
		i = j
	}
	switch n {
	case 0:
		return metric.Point{}, 0, ErrBlank
	case 1, 2:
		return metric.Point{}, ingest.Malformed, fmt.Errorf("cannot decode plaintext line %q: want 3 fields (name value timestamp), got %d", line, n)
	}
	if reason, err := ingest.CheckName(fields[0], lim.MaxNameLen); err != nil {
		return metric.Point{}, reason, fmt.Errorf("cannot decode plaintext line: %w", err)
	}
	value, reason, err := parseNumber(fields[1], "value")
	if err != nil {
		return metric.Point{}, reason, err
	}
	ts, reason, err := parseNumber(fields[2], "timestamp")
	if err != nil {
		return metric.Point{}, reason, err
	}
	return metric.Point{Name: string(fields[0]), Timestamp: ts, Value: value}, 0, nil
}

// parseNumber parses a decimal int (kept as an int when it fits int64) or float.
func parseNumber(tok []byte, what string) (metric.Number, ingest.Reason, error) {
	if i, ok := parseInt(tok); ok {
		return metric.Int(i), 0, nil
	}
	// Go's ParseFloat also accepts "nan", "inf", "infinity", hex floats and underscores;
	// only the decimal charset is let through, the rest is classified below.
	decimal := true
	for _, c := range tok {
		if !('0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			decimal = false
			break
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// "nan", "inf", "-Infinity" or an exponent out of range ("1e400").
		return metric.Number{}, ingest.NotFinite, fmt.Errorf("cannot decode plaintext %s %q: %w", what, tok, ingest.CheckFinite(what, f))
	}
	if err != nil || !decimal {
		return metric.Number{}, ingest.Malformed, fmt.Errorf("cannot decode plaintext %s %q: not a decimal number", what, tok)
	}
	return metric.Float(f), 0, nil
}

// parseInt parses [+-]?[0-9]+ into an int64; ok is false for anything else, overflow
// included.
func parseInt(tok []byte) (int64, bool) {
	neg := false
	s := tok
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false // 19 digits hold every int64; longer overflows (and goes to float)
	}
	var u uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // at most 19 digits: cannot overflow uint64
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // -(1<<63) wraps to MinInt64, as wanted
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}
