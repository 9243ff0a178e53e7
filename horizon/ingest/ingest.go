// Package ingest holds what every horizon wire decoder shares: the size limits checked
// before allocating, the metric-name rules, and the reasons a datapoint is rejected or
// dropped. It sits between the listeners (which frame bytes) and the writer (which stores
// points), and replaces the implicit "anything goes" of Skyline's listen.py.
package ingest

import (
	"errors"
	"fmt"
	"math"

	"github.com/kale-project/kale/utils/metric"
)

// Reason says why a datapoint, item or payload did not reach Redis. It is the "reason" label
// of kale_horizon_rejected_total.
type Reason int

// The rejection reasons. Decoders produce the first group; the writer the second.
const (
	Malformed      Reason = iota // bytes that do not parse as the protocol
	TooLarge                     // frame, datagram, item count or length over its limit
	BadType                      // a well-formed item of the wrong shape or types (pickle globals included)
	BadName                      // empty name, non-UTF-8 or outside the safe charset
	NameTooLong                  // name longer than Limits.MaxNameLen
	NotFinite                    // NaN or ±Inf value or timestamp
	SkipList                     // name contains a SKIP_LIST substring
	TooOld                       // timestamp older than now - MAX_RESOLUTION
	QueueFull                    // UDP datagram dropped because the writer queue was full
	TooNew                       // timestamp later than now + --max-future
	TooManyMetrics               // a new metric name over --max-metrics or --max-new-metrics-per-minute
	OverBudget                   // a TCP frame refused because --max-inflight-bytes stayed exhausted
	Evicted                      // a TCP connection closed to admit a newcomer at --max-conns
	NumReasons
)

var reasonNames = [NumReasons]string{
	Malformed:      "malformed",
	TooLarge:       "too_large",
	BadType:        "bad_type",
	BadName:        "bad_name",
	NameTooLong:    "name_too_long",
	NotFinite:      "not_finite",
	SkipList:       "skip_list",
	TooOld:         "too_old",
	QueueFull:      "queue_full",
	TooNew:         "too_new",
	TooManyMetrics: "too_many_metrics",
	OverBudget:     "over_budget",
	Evicted:        "evicted",
}

func (r Reason) String() string {
	if r < 0 || r >= NumReasons {
		return fmt.Sprintf("reason(%d)", int(r))
	}
	return reasonNames[r]
}

// Limits bound what a decoder accepts. They are checked before anything is allocated.
type Limits struct {
	MaxNameLen int // bytes in a metric name
	MaxItems   int // datapoints in one payload (pickle list, msgpack array)
	MaxPayload int // bytes in one frame or datagram
}

// DefaultLimits are the limits used unless configured otherwise.
func DefaultLimits() Limits {
	return Limits{MaxNameLen: 255, MaxItems: 100_000, MaxPayload: 16 << 20}
}

// Error reports the items of one payload that a decoder rejected. The good items of the same
// payload were still emitted. A decoder that cannot parse the payload at all returns an Error
// with a single Malformed or TooLarge count.
type Error struct {
	Counts [NumReasons]int
	First  error // the first rejection, for the rate-limited log line
}

func (e *Error) Error() string {
	n := 0
	for _, c := range e.Counts {
		n += c
	}
	return fmt.Sprintf("rejected %d item(s), first: %v", n, e.First)
}

func (e *Error) Unwrap() error { return e.First }

// Rejects accumulates rejections while a decoder walks a payload.
type Rejects struct{ e *Error }

// Add counts one rejected item.
func (r *Rejects) Add(reason Reason, err error) {
	if r.e == nil {
		r.e = &Error{First: err}
	}
	r.e.Counts[reason]++
}

// Err returns nil when nothing was rejected, otherwise the *Error.
func (r *Rejects) Err() error {
	if r.e == nil {
		return nil
	}
	return r.e
}

// Fail returns an *Error for a payload rejected as a whole.
func Fail(reason Reason, err error) error {
	e := &Error{First: err}
	e.Counts[reason] = 1
	return e
}

// Count adds the rejections carried by err to counts; an error that is not an *Error counts
// as one Malformed payload. It returns the number of rejections added.
func Count(err error, add func(Reason, int)) int {
	var e *Error
	if !errors.As(err, &e) {
		add(Malformed, 1)
		return 1
	}
	n := 0
	for r, c := range e.Counts {
		if c > 0 {
			add(Reason(r), c)
			n += c
		}
	}
	return n
}

// NameCharset documents the bytes allowed in a metric name (redisstore's rule).
const NameCharset = metric.NameCharset

// CheckName validates a metric name with metric.CheckName (1..max bytes from
// NameCharset). A nil error means the name is valid; otherwise the Reason says how to count it.
func CheckName(name []byte, max int) (Reason, error) {
	err := metric.CheckName(name, max)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, metric.ErrNameTooLong):
		return NameTooLong, err
	}
	return BadName, err
}

// CheckFinite rejects NaN and ±Inf; what names the field ("value", "timestamp").
func CheckFinite(what string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%s is %v", what, f)
	}
	return nil
}
