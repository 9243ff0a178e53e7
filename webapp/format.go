package webapp

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kale-project/kale/analyzer/recordstore"
)

func metricURL(name string) string     { return "/metric/" + url.PathEscape(name) }
func collectionURL(name string) string { return "/collection/" + url.PathEscape(name) }
func searchURL(name string) string {
	return "/search?" + url.Values{"query": {name}, "search_type": {"DTW"}}.Encode()
}

func ago(unix int64) string {
	d := time.Since(time.Unix(unix, 0))
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func iso(unix int64) string   { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
func clock(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05 UTC") }

func fnum(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case recordstore.Float:
		f = float64(x)
	case num:
		f = float64(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		return fmt.Sprint(v)
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "—"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case math.Abs(f) >= 1e6 || math.Abs(f) < 1e-3:
		return strconv.FormatFloat(f, 'g', 4, 64)
	}
	return strconv.FormatFloat(math.Round(f*1e4)/1e4, 'f', -1, 64)
}

// short formats a number compactly (4 significant digits, k/M/G/T from ten thousand up), as
// the UI's kale.short does.
func short(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case recordstore.Float:
		f = float64(x)
	case num:
		f = float64(x)
	default:
		return fnum(v)
	}
	a := math.Abs(f)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "—"
	case a >= 1e12:
		return strconv.FormatFloat(f/1e12, 'g', 3, 64) + "T"
	case a >= 1e9:
		return strconv.FormatFloat(f/1e9, 'g', 3, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(f/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(f/1e3, 'g', 3, 64) + "k"
	case a != 0 && a < 1e-3:
		return strconv.FormatFloat(f, 'e', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// counts formats a reason → count map as "a 1 · b 2", sorted by reason.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, " · ")
}

// triggeredSummary names the detectors that fired, or counts them when there are many.
func triggeredSummary(t []string) string {
	switch {
	case len(t) == 0:
		return ""
	case len(t) <= 2:
		return strings.Join(t, ", ")
	}
	return fmt.Sprintf("%d detectors", len(t))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
