package webapp

// The target grammar of graphite-web's render API, parsed by a small recursive-descent parser:
//
//	expr  = call | string | number | bool | path
//	call  = name "(" [ arg { "," arg } ] ")"
//	arg   = [ name "=" ] expr
//
// A path is a run of characters other than ( ) , ' " and white space, in which a {…} group may
// hold commas ("a.{b,c}.d"). A name followed by "(" is a function call.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits of a target.
const (
	maxTargetLen   = 8 << 10 // bytes of one target
	maxTargetDepth = 50      // nesting of function calls
)

// gKind is the kind of a target node.
type gKind int

const (
	gPath gKind = iota
	gCall
	gString
	gNumber
	gBool
	gNone // Python's None: an argument left at its default
)

// gExpr is a node of a parsed target.
type gExpr struct {
	kind   gKind
	str    string  // path, function name or string value
	num    float64 // number value
	text   string  // a number as written
	raw    string  // a call as written (seriesByTag is fetched by its text, as graphite-web)
	b      bool
	args   []*gExpr
	kwargs map[string]*gExpr
}

// String is the node as graphite would print it.
func (e *gExpr) String() string {
	switch e.kind {
	case gCall:
		parts := make([]string, 0, len(e.args)+len(e.kwargs))
		for _, a := range e.args {
			parts = append(parts, a.String())
		}
		for k, a := range e.kwargs {
			parts = append(parts, k+"="+a.String())
		}
		return e.str + "(" + strings.Join(parts, ",") + ")"
	case gString:
		if strings.Contains(e.str, `"`) && !strings.Contains(e.str, "'") {
			return "'" + e.str + "'"
		}
		return `"` + strings.ReplaceAll(e.str, `"`, `\"`) + `"`
	case gNumber:
		return e.text
	case gBool:
		if e.b {
			return "true"
		}
		return "false"
	case gNone:
		return "None"
	}
	return e.str
}

type targetParser struct {
	s     string
	pos   int
	depth int
}

// parseTarget parses one render target.
func parseTarget(s string) (*gExpr, error) {
	if len(s) > maxTargetLen {
		return nil, fmt.Errorf("target longer than %d bytes", maxTargetLen)
	}
	p := &targetParser{s: s}
	p.space()
	if p.pos == len(s) {
		return nil, fmt.Errorf("empty target")
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(s) {
		return nil, fmt.Errorf("unexpected %q at offset %d of target %q", s[p.pos:p.pos+1], p.pos, s)
	}
	return e, nil
}

func (p *targetParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *targetParser) errf(format string, args ...any) error {
	return fmt.Errorf("%s at offset %d of target %q", fmt.Sprintf(format, args...), p.pos, p.s)
}

func (p *targetParser) expr() (*gExpr, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, p.errf("unexpected end")
	}
	switch c := p.s[p.pos]; c {
	case '\'', '"':
		return p.str(c)
	case '(', ')', ',', '=':
		return nil, p.errf("unexpected %q", string(c))
	}
	start := p.pos
	tok, err := p.path()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		if !validFuncName(tok) {
			return nil, p.errf("%q is not a function name", tok)
		}
		e, err := p.call(tok)
		if err == nil {
			e.raw = p.s[start:p.pos]
		}
		return e, err
	}
	if tok == "None" {
		return &gExpr{kind: gNone}, nil
	}
	switch strings.ToLower(tok) {
	case "true":
		return &gExpr{kind: gBool, b: true}, nil
	case "false":
		return &gExpr{kind: gBool, b: false}, nil
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && isNumeric(tok) {
		return &gExpr{kind: gNumber, num: f, text: tok}, nil
	}
	return &gExpr{kind: gPath, str: tok}, nil
}

// isNumeric says a token reads as a number (digits, sign, point, exponent), not a path like "inf".
func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789+-.eE", rune(s[i])) {
			return false
		}
	}
	return true
}

func validFuncName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// path reads a path token: up to ( ) , quote or space outside {…}.
func (p *targetParser) path() (string, error) {
	start, braces := p.pos, 0
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '{':
			braces++
		case c == '}':
			if braces == 0 {
				return "", p.errf("unbalanced '}'")
			}
			braces--
		case c == ',' && braces > 0:
		case c == '(' || c == ')' || c == ',' || c == '\'' || c == '"' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if braces > 0 {
				return "", p.errf("unexpected %q inside {…}", string(c))
			}
			goto done
		case c == '=' && braces == 0 && strings.IndexByte(p.s[start:p.pos], ';') < 0:
			goto done // a keyword argument; in a tagged name ("a;dc=x") '=' is part of the path
		}
		p.pos++
	}
done:
	if braces > 0 {
		return "", p.errf("unclosed '{'")
	}
	if p.pos == start {
		return "", p.errf("expected a path, a number or a function")
	}
	return p.s[start:p.pos], nil
}

func (p *targetParser) str(q byte) (*gExpr, error) {
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			return &gExpr{kind: gString, str: b.String()}, nil
		case c == '\\' && p.pos+1 < len(p.s):
			// \<quote> is the quote; any other backslash is kept (regular expressions: "\.")
			if p.s[p.pos+1] != q {
				b.WriteByte(c)
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	return nil, p.errf("unterminated string")
}

func (p *targetParser) call(name string) (*gExpr, error) {
	p.depth++
	if p.depth > maxTargetDepth {
		return nil, p.errf("functions nested deeper than %d", maxTargetDepth)
	}
	defer func() { p.depth-- }()
	p.pos++ // (
	e := &gExpr{kind: gCall, str: name}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == ')' {
		p.pos++
		return e, nil
	}
	for {
		p.space()
		// keyword argument: name=expr
		save := p.pos
		if tok, err := p.path(); err == nil && validFuncName(tok) {
			p.space()
			if p.pos < len(p.s) && p.s[p.pos] == '=' {
				p.pos++
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				if e.kwargs == nil {
					e.kwargs = map[string]*gExpr{}
				}
				if _, dup := e.kwargs[tok]; dup {
					return nil, p.errf("argument %s given twice", tok)
				}
				e.kwargs[tok] = v
				goto next
			}
		}
		p.pos = save
		{
			if e.kwargs != nil {
				return nil, p.errf("positional argument after a keyword argument")
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			e.args = append(e.args, a)
		}
	next:
		p.space()
		if p.pos >= len(p.s) {
			return nil, p.errf("unclosed call of %s", name)
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return e, nil
		default:
			return nil, p.errf("expected ',' or ')'")
		}
	}
}
