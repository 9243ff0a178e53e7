package config

import "github.com/kale-project/kale/utils/secret"

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
		return secret.Value(v)
	case secretURL:
		return secret.URL(v)
	case secretRedis:
		return secret.Userinfo(v)
	}
	return v
}
