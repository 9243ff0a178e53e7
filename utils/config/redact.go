package config

import (
	"strings"
)

// Secret kinds, the value of a Config field's `secret` tag: how Display hides the option.
const (
	secretValue = "value" // a password, token or key: "****" plus its last 4 characters when long enough
	secretURL   = "url"   // a URL whose path or query is a credential: scheme://host/****
	secretRedis = "redis" // a Redis URL: only the password of its user info is hidden
)

// Secret reports whether the option holds a credential that must never be printed or logged
// in clear.
func (o Option) Secret() bool { return o.secret != "" }

// Display is Get with credentials hidden: what kale check-config prints and what may be logged.
func (o Option) Display(c *Config) string {
	v := o.Get(c)
	if v == "" {
		return v
	}
	switch o.secret {
	case secretValue:
		return RedactValue(v)
	case secretURL:
		return RedactURL(v)
	case secretRedis:
		return RedactUserinfo(v)
	}
	return v
}

// RedactValue hides a password, token or key: "****" followed by its last 4 characters when
// it is at least 16 characters long (enough to tell two keys apart), else "****" alone.
func RedactValue(s string) string {
	if s == "" {
		return ""
	}
	if len(s) >= 16 {
		return "****" + s[len(s)-4:]
	}
	return "****"
}

// RedactURL keeps the scheme and host of a URL whose path, query or user info may be a
// credential (Slack and webhook URLs, PagerDuty endpoints): "https://hooks.slack.com/****".
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return RedactValue(s)
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = "****@" + host[i+1:]
	}
	if host == rest {
		return scheme + "://" + host
	}
	return scheme + "://" + host + "/****"
}

// RedactUserinfo hides the password of a URL's user info ("redis://:pw@h:6379/0" →
// "redis://:****@h:6379/0"), also in forms net/url cannot parse, such as
// redis+cluster://user:pw@h1:1,h2:2. A password given as a query parameter is hidden too.
func RedactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user := authority[:at]
		if name, _, hasPw := strings.Cut(user, ":"); hasPw {
			user = name + ":****"
		}
		authority = user + "@" + authority[at+1:]
	}
	if q := strings.IndexByte(tail, '?'); q >= 0 {
		params := strings.Split(tail[q+1:], "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(k), "password") {
				params[i] = k + "=****"
			}
		}
		tail = tail[:q+1] + strings.Join(params, "&")
	}
	return scheme + "://" + authority + tail
}
