// Package influx is horizon's pure decoder for the InfluxDB line protocol
// ("measurement,tag=v field=1.5,other=2i 1700000000000000000", POST /write and
// POST /api/v2/write on --ingest-http), sitting between the HTTP ingest handler and the
// writer. Skyline had no Influx input; Telegraf and every Influx client library can now
// write to Kale directly.
//
// Lines are tokenised by influxdata's own parser (github.com/influxdata/line-protocol/v2);
// this package maps them onto Graphite-tagged series. It does no I/O.
package influx

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/utils/metric"
)

// Precision is the unit of the line timestamps, as nanoseconds per unit.
type Precision int64

// The precisions accepted by InfluxDB's write endpoints.
const (
	Nanosecond  Precision = 1
	Microsecond Precision = 1e3
	Millisecond Precision = 1e6
	Second      Precision = 1e9
	Minute      Precision = 60e9 // v1 only ("m")
	Hour        Precision = 3600e9
)

// ParsePrecision reads the precision query parameter of either write endpoint. InfluxDB v1
// spells it n, ns, u, µ, ms, s, m or h; v2 spells it ns, us, ms or s. Both spellings are
// accepted on both endpoints; "" is nanoseconds, both APIs' default.
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "n", "ns":
		return Nanosecond, nil
	case "u", "us", "µ", "µs":
		return Microsecond, nil
	case "ms":
		return Millisecond, nil
	case "s":
		return Second, nil
	case "m":
		return Minute, nil
	case "h":
		return Hour, nil
	}
	return 0, fmt.Errorf("cannot parse precision %q: want one of ns, us, ms, s (v1 also n, u, m, h)", s)
}

// Options are the per-request parameters of Decode.
type Options struct {
	Precision Precision // unit of the timestamps; 0 means Nanosecond
	Now       time.Time // the timestamp of a line that has none, truncated to Precision
}

// Decode decodes b, one or more lines of line protocol, and calls emit once per numeric field
// of every good line.
//
// The field "f" of measurement "m" with tags t1=v1,t2=v2 becomes the series
// "m.f;t1=v1;t2=v2", tags in the normal form of horizon/tags; the whole name must pass
// ingest.CheckName (else ingest.BadName or ingest.NameTooLong for that field). Floats are
// stored as floats; integers ("2i") and unsigned integers ("2u") as ints (an unsigned value
// beyond int64 as a float); booleans as 1 or 0. String fields are refused and counted as
// ingest.BadType; the numeric fields of the same line are still stored. The timestamp, read in
// o.Precision, becomes seconds: an int when it is a whole second, a float otherwise. A line
// without a timestamp gets o.Now.
//
// A line that does not parse (syntax, a value out of range, a bad timestamp) is rejected as a
// whole as ingest.Malformed, one count per line, and decoding goes on with the next line.
// Limits: len(b) > lim.MaxPayload rejects the payload as ingest.TooLarge; once lim.MaxItems
// points were emitted, every further field is counted as ingest.TooLarge.
func Decode(b []byte, lim ingest.Limits, o Options, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode line protocol: payload of %d bytes exceeds the limit of %d", len(b), lim.MaxPayload))
	}
	if o.Precision <= 0 {
		o.Precision = Nanosecond
	}
	d := decoder{lim: lim, o: o, emit: emit, dec: lineprotocol.NewDecoderWithBytes(b)}
	d.nowTS = toSeconds(o.Now.UnixNano()/int64(o.Precision), o.Precision)
	for d.dec.Next() {
		if err := d.line(); err != nil {
			d.rej.Add(ingest.Malformed, err)
		}
	}
	return d.rej.Err()
}

type field struct {
	key   []byte // into decoder.keys
	value metric.Number
}

type decoder struct {
	lim     ingest.Limits
	o       Options
	emit    func(metric.Point)
	dec     *lineprotocol.Decoder
	nowTS   metric.Number
	rej     ingest.Rejects
	emitted int

	// Scratch reused from line to line.
	measurement []byte
	tagBytes    []byte
	tagOffsets  []int
	tagList     []tags.Tag
	suffix      []byte
	keys        []byte
	keyEnds     []int
	fields      []field
	name        []byte
}

// line decodes the current line. A returned error rejects the whole line as Malformed;
// per-field rejections are added to d.rej directly.
func (d *decoder) line() error {
	m, err := d.dec.Measurement()
	if err != nil {
		return fmt.Errorf("cannot decode line protocol: %w", err)
	}
	d.measurement = append(d.measurement[:0], m...)

	d.tagBytes, d.tagOffsets = d.tagBytes[:0], d.tagOffsets[:0]
	for {
		k, v, err := d.dec.NextTag()
		if err != nil {
			return fmt.Errorf("cannot decode line protocol: %w", err)
		}
		if k == nil {
			break
		}
		d.tagBytes = append(d.tagBytes, k...)
		d.tagOffsets = append(d.tagOffsets, len(d.tagBytes))
		d.tagBytes = append(d.tagBytes, v...)
		d.tagOffsets = append(d.tagOffsets, len(d.tagBytes))
	}

	d.keys, d.keyEnds, d.fields = d.keys[:0], d.keyEnds[:0], d.fields[:0]
	nStrings := 0
	var stringErr error
	for {
		k, v, err := d.dec.NextField()
		if err != nil {
			return fmt.Errorf("cannot decode line protocol: %w", err)
		}
		if k == nil {
			break
		}
		var n metric.Number
		switch v.Kind() {
		case lineprotocol.Float:
			n = metric.Float(v.FloatV())
		case lineprotocol.Int:
			n = metric.Int(v.IntV())
		case lineprotocol.Uint:
			if u := v.UintV(); u <= math.MaxInt64 {
				n = metric.Int(int64(u))
			} else {
				n = metric.Float(float64(u))
			}
		case lineprotocol.Bool:
			n = metric.Int(0)
			if v.BoolV() {
				n = metric.Int(1)
			}
		default: // lineprotocol.String
			nStrings++
			if stringErr == nil {
				stringErr = fmt.Errorf("cannot store string field %q of measurement %q: only numbers and booleans are stored", k, d.measurement)
			}
			continue
		}
		d.keys = append(d.keys, k...)
		d.keyEnds = append(d.keyEnds, len(d.keys))
		d.fields = append(d.fields, field{value: n})
	}

	tsBytes, err := d.dec.TimeBytes()
	if err != nil {
		return fmt.Errorf("cannot decode line protocol: %w", err)
	}
	ts := d.nowTS
	if tsBytes != nil {
		i, err := strconv.ParseInt(string(tsBytes), 10, 64)
		if err != nil {
			return fmt.Errorf("cannot decode line protocol timestamp %q: %w", tsBytes, err)
		}
		ts = toSeconds(i, d.o.Precision)
	}

	// The line parsed: count its string fields, then store its numeric ones.
	for range nStrings {
		d.rej.Add(ingest.BadType, stringErr)
	}
	if len(d.fields) == 0 {
		return nil
	}
	suffixErr := d.buildSuffix()
	start := 0
	for i := range d.fields {
		key := d.keys[start:d.keyEnds[i]]
		start = d.keyEnds[i]
		if suffixErr != nil {
			d.rej.Add(ingest.BadName, suffixErr)
			continue
		}
		if d.emitted >= d.lim.MaxItems {
			d.rej.Add(ingest.TooLarge, fmt.Errorf("cannot decode line protocol: more than %d points in one payload", d.lim.MaxItems))
			continue
		}
		d.name = append(append(append(append(d.name[:0], d.measurement...), '.'), key...), d.suffix...)
		if reason, err := ingest.CheckName(d.name, d.lim.MaxNameLen); err != nil {
			d.rej.Add(reason, fmt.Errorf("cannot decode line protocol: %w", err))
			continue
		}
		if err := ingest.CheckFinite("value", d.fields[i].value.Float64()); err != nil {
			d.rej.Add(ingest.NotFinite, fmt.Errorf("cannot decode line protocol field %q: %w", key, err))
			continue
		}
		d.emitted++
		d.emit(metric.Point{Name: string(d.name), Timestamp: ts, Value: d.fields[i].value})
	}
	return nil
}

// buildSuffix turns the line's tags into the ";k=v…" suffix shared by its fields, with a
// single string allocation for all of them.
func (d *decoder) buildSuffix() error {
	d.suffix = d.suffix[:0]
	if len(d.tagOffsets) == 0 {
		return nil
	}
	all := string(d.tagBytes)
	d.tagList = d.tagList[:0]
	start := 0
	for i := 0; i < len(d.tagOffsets); i += 2 {
		k, v := all[start:d.tagOffsets[i]], all[d.tagOffsets[i]:d.tagOffsets[i+1]]
		start = d.tagOffsets[i+1]
		d.tagList = append(d.tagList, tags.Tag{Key: k, Value: v})
	}
	var err error
	d.suffix, err = tags.AppendTags(d.suffix, d.tagList)
	if err != nil {
		return fmt.Errorf("cannot decode line protocol measurement %q: %w", d.measurement, err)
	}
	return nil
}

// toSeconds converts a timestamp of ts units of p to seconds: an int when whole, else a float.
func toSeconds(ts int64, p Precision) metric.Number {
	if p >= Second {
		mul := int64(p / Second)
		if s := ts * mul; s/mul == ts {
			return metric.Int(s)
		}
		return metric.Float(float64(ts) * float64(mul))
	}
	per := int64(Second / p) // units per second
	sec, frac := ts/per, ts%per
	if frac == 0 {
		return metric.Int(sec)
	}
	// Whole seconds plus the fraction: float64(ts)/per would lose the last digits of a
	// nanosecond timestamp before dividing.
	return metric.Float(float64(sec) + float64(frac)/float64(per))
}
