package webapp

import (
	"fmt"
	"regexp"
	"strings"
)

// isGlob says a path expression holds a wildcard.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[{") }

// globRegexp compiles a Graphite path expression: * is any run of characters within a node,
// ? one character within a node, [a-z] a class within a node, {a,b} an alternation.
func globRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	braces := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			b.WriteString(`[^.]*`)
		case '?':
			b.WriteString(`[^.]`)
		case '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed '[' in %q", p)
			}
			class := p[i+1 : i+1+j]
			neg := strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^")
			if neg {
				class = class[1:]
			}
			if class == "" {
				return nil, fmt.Errorf("empty [] in %q", p)
			}
			class = strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `^`, `\^`).Replace(class)
			if neg {
				b.WriteString(`[^.` + class + `]`)
			} else {
				b.WriteString(`[` + class + `]`)
			}
			i += j + 1
		case '{':
			braces++
			b.WriteString("(?:")
		case '}':
			if braces == 0 {
				return nil, fmt.Errorf("unbalanced '}' in %q", p)
			}
			braces--
			b.WriteString(")")
		case ',':
			if braces > 0 {
				b.WriteString("|")
			} else {
				b.WriteString(",")
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if braces > 0 {
		return nil, fmt.Errorf("unclosed '{' in %q", p)
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
