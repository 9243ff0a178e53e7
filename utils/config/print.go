package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteTOML writes c as a commented TOML config file that Resolve reads back unchanged.
func WriteTOML(w io.Writer, c *Config) error {
	var b strings.Builder
	b.WriteString("# Kale configuration. Every key is also a flag (--key) and an environment\n")
	b.WriteString("# variable (KALE_KEY, dashes as underscores). Precedence: flag > env > file > default.\n")
	b.WriteString("# Skyline settings.py names (FULL_DURATION, SKIP_LIST, HORIZON_IP, ...) are accepted too.\n")
	for _, o := range Options() {
		fmt.Fprintf(&b, "\n# %s\n%s = %s\n", o.Help, o.Name, tomlValue(o.value(c).Interface()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return strconv.Quote(x.String())
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(x)
	}
}
