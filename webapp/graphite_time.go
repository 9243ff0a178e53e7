package webapp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// offsetRE is a Graphite time offset: "-1h", "+30min", "2d", "1week".
var offsetRE = regexp.MustCompile(`^([+-]?)(\d+)([a-zA-Z]+)$`)

// parseInterval reads a Graphite interval ("1h", "-30min", "5s") as signed seconds.
func parseInterval(s string) (int64, error) {
	m := offsetRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("invalid interval %q", s)
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || n > 1e9 {
		return 0, fmt.Errorf("invalid interval %q", s)
	}
	unit, err := unitSeconds(m[3])
	if err != nil {
		return 0, fmt.Errorf("invalid interval %q: %w", s, err)
	}
	if m[1] == "-" {
		n = -n
	}
	return n * unit, nil
}

// unitSeconds maps Graphite's time units to seconds.
func unitSeconds(u string) (int64, error) {
	u = strings.ToLower(u)
	switch {
	case u == "s" || strings.HasPrefix(u, "sec"):
		return 1, nil
	case strings.HasPrefix(u, "min"):
		return 60, nil
	case u == "h" || strings.HasPrefix(u, "hour"):
		return 3600, nil
	case u == "d" || strings.HasPrefix(u, "day"):
		return 86400, nil
	case u == "w" || strings.HasPrefix(u, "week"):
		return 7 * 86400, nil
	case strings.HasPrefix(u, "mon"):
		return 30 * 86400, nil
	case u == "y" || strings.HasPrefix(u, "year"):
		return 365 * 86400, nil
	}
	return 0, fmt.Errorf("unknown unit %q", u)
}

// parseGraphiteTime reads from=/until= in Graphite's forms: "now", a relative offset ("-1h",
// "now-2d"), epoch seconds, "HH:MM_YYYYMMDD" and "YYYYMMDD" (in loc).
func parseGraphiteTime(s string, now time.Time, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "now":
		return now.Unix(), nil
	case strings.HasPrefix(s, "now"):
		d, err := parseInterval(s[3:])
		if err != nil {
			return 0, err
		}
		return now.Unix() + d, nil
	case s[0] == '-' || s[0] == '+':
		d, err := parseInterval(s)
		if err != nil {
			return 0, err
		}
		return now.Unix() + d, nil
	}
	if isDigits(s) {
		if len(s) == 8 {
			if t, err := time.ParseInLocation("20060102", s, loc); err == nil && t.Year() > 1900 {
				return t.Unix(), nil
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid time %q", s)
		}
		return n, nil
	}
	if t, err := time.ParseInLocation("15:04_20060102", s, loc); err == nil {
		return t.Unix(), nil
	}
	return 0, fmt.Errorf("invalid time %q (use now, -1h, epoch seconds, HH:MM_YYYYMMDD or YYYYMMDD)", s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
