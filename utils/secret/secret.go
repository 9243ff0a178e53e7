// Package secret hides credentials in values that are printed or logged: passwords, tokens
// and keys, URLs whose path is a credential (Slack and webhook URLs), and the password of a
// Redis URL. kale check-config, the configuration's error messages and the store's connection
// description all go through it, so a secret kept in an env file never reaches a journal.
package secret

import "strings"

// Value hides a password, token or key: "****" followed by its last 4 characters when
// it is at least 16 characters long (enough to tell two keys apart), else "****" alone.
func Value(s string) string {
	if s == "" {
		return ""
	}
	if len(s) >= 16 {
		return "****" + s[len(s)-4:]
	}
	return "****"
}

// URL keeps the scheme and host of a URL whose path, query or user info may be a
// credential (Slack and webhook URLs, PagerDuty endpoints): "https://hooks.slack.com/****".
func URL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Value(s)
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

// Userinfo hides the password of a URL's user info ("redis://:pw@h:6379/0" →
// "redis://:****@h:6379/0"), also in forms net/url cannot parse, such as
// redis+cluster://user:pw@h1:1,h2:2. A password given as a query parameter is hidden too.
func Userinfo(s string) string {
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
