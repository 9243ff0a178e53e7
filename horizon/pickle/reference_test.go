package pickle

import (
	"bytes"
	"fmt"
	"math/big"
	"unsafe"

	ogorek "github.com/kisielk/og-rek"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// refDecode is the decoder this package had before the machine: og-rek on the whole payload,
// then a walk over the decoded value. FuzzDecode checks that Decode agrees with it on every
// payload both accept; it has none of Decode's guards, so only call it on small inputs.
func refDecode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	obj, err := ogorek.NewDecoderWithConfig(bytes.NewReader(b), &ogorek.DecoderConfig{}).Decode()
	if err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: %w", err))
	}
	var items []any
	switch v := obj.(type) {
	case []any:
		items = v
	case ogorek.Tuple:
		items = v
	case ogorek.Class, ogorek.Call, ogorek.Ref:
		return ingest.Fail(ingest.BadType, fmt.Errorf("cannot decode pickle: payload is %s", refDescribe(obj)))
	default:
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: payload is %s", refDescribe(obj)))
	}
	if len(items) > lim.MaxItems {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d items exceed the limit of %d", len(items), lim.MaxItems))
	}
	var rej ingest.Rejects
	for i, it := range items {
		p, reason, err := refPoint(it, lim)
		if err != nil {
			rej.Add(reason, fmt.Errorf("cannot decode pickle item %d: %w", i, err))
			continue
		}
		emit(p)
	}
	return rej.Err()
}

// point converts one decoded item (name, (timestamp, value)).
func refPoint(it any, lim ingest.Limits) (metric.Point, ingest.Reason, error) {
	pair, ok := refSequence(it)
	if !ok || len(pair) != 2 {
		return metric.Point{}, ingest.BadType, fmt.Errorf("item is %s, want (name, (timestamp, value))", refDescribe(it))
	}
	var name string
	switch v := pair[0].(type) {
	case string:
		name = v
	case ogorek.Bytes:
		name = string(v)
	case ogorek.ByteString:
		name = string(v)
	default:
		return metric.Point{}, ingest.BadType, fmt.Errorf("name is %s, want str or bytes", refDescribe(pair[0]))
	}
	dp, ok := refSequence(pair[1])
	if !ok || len(dp) != 2 {
		return metric.Point{}, ingest.BadType, fmt.Errorf("datapoint is %s, want (timestamp, value)", refDescribe(pair[1]))
	}
	ts, err := refNumber(dp[0], "timestamp")
	if err != nil {
		return metric.Point{}, ingest.BadType, err
	}
	value, err := refNumber(dp[1], "value")
	if err != nil {
		return metric.Point{}, ingest.BadType, err
	}
	// og-rek has already made the name a string; CheckName reads its bytes in place
	// instead of copying them into a []byte (it does not retain or modify them).
	if reason, err := ingest.CheckName(unsafe.Slice(unsafe.StringData(name), len(name)), lim.MaxNameLen); err != nil {
		return metric.Point{}, reason, err
	}
	if err := ingest.CheckFinite("timestamp", ts.Float64()); err != nil {
		return metric.Point{}, ingest.NotFinite, err
	}
	if err := ingest.CheckFinite("value", value.Float64()); err != nil {
		return metric.Point{}, ingest.NotFinite, err
	}
	return metric.Point{Name: name, Timestamp: ts, Value: value}, 0, nil
}

func refSequence(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case ogorek.Tuple:
		return v, true
	}
	return nil, false
}

// number converts a Python int, long or float, keeping which one the sender wrote.
func refNumber(v any, what string) (metric.Number, error) {
	switch v := v.(type) {
	case int64:
		return metric.Int(v), nil
	case float64:
		return metric.Float(v), nil
	case *big.Int:
		if v.IsInt64() {
			return metric.Int(v.Int64()), nil
		}
		return metric.Number{}, fmt.Errorf("%s is an int of %d bits, beyond int64", what, v.BitLen())
	}
	return metric.Number{}, fmt.Errorf("%s is %s, want int or float", what, refDescribe(v))
}

// describe names a decoded value for an error message. It never formats the value itself:
// a decoded value can be nested a million levels deep.
func refDescribe(v any) string {
	switch v := v.(type) {
	case []any:
		return fmt.Sprintf("a list of %d", len(v))
	case ogorek.Tuple:
		return fmt.Sprintf("a tuple of %d", len(v))
	case string, ogorek.ByteString:
		return "a str"
	case ogorek.Bytes, []byte:
		return "bytes"
	case int64, *big.Int:
		return "an int"
	case float64:
		return "a float"
	case bool:
		return "a bool"
	case ogorek.None:
		return "None"
	case ogorek.Class:
		return fmt.Sprintf("the global %s", refClassName(v))
	case ogorek.Call:
		return fmt.Sprintf("a call of %s", refClassName(v.Callable))
	case ogorek.Ref:
		return "a persistent reference"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("a %T", v)
}

func refClassName(c ogorek.Class) string {
	s := c.Module + "." + c.Name
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
