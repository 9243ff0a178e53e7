package metric

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// NameCharset documents the bytes allowed in a metric name (the part of a key after the
// namespace): the one rule that horizon's listeners and kale import apply.
const NameCharset = "A-Z a-z 0-9 and . _ - : ; = + % @ ~ # / ,"

// Errors of CheckName, checked with errors.Is.
var (
	ErrEmptyName   = errors.New("empty metric name")
	ErrNameTooLong = errors.New("metric name too long")
	ErrNameCharset = errors.New("metric name has a byte outside the allowed charset")
)

var nameOK = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "._-:;=+%@~#/," {
		t[c] = true
	}
	return t
}()

// CheckName validates a metric name: 1..max bytes from NameCharset (so valid UTF-8, no
// spaces, quotes, angle brackets or control bytes). It takes a string or a byte slice and
// allocates only to describe a bad name.
func CheckName[T string | []byte](name T, max int) error {
	if len(name) == 0 {
		return ErrEmptyName
	}
	if len(name) > max {
		return nameError{ErrNameTooLong, fmt.Sprintf("metric name of %d bytes exceeds the limit of %d", len(name), max)}
	}
	for i := 0; i < len(name); i++ {
		if !nameOK[name[i]] {
			return nameError{ErrNameCharset, fmt.Sprintf("metric name %q has a byte outside [%s]", truncateName(string(name)), NameCharset)}
		}
	}
	return nil
}

// nameError describes a rejected name and unwraps to the sentinel that classifies it.
type nameError struct {
	kind error
	msg  string
}

func (e nameError) Error() string { return e.msg }
func (e nameError) Unwrap() error { return e.kind }

// truncateName shortens a rejected name for messages, keeping it valid UTF-8.
func truncateName(s string) string {
	const n = 64
	if len(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}
