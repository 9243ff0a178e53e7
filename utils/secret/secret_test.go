package secret

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecret(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"value short", "hunter2", "****"},
		{"value long", "R0ut1ngKey0123456789abcd", "****abcd"},
		{"slack", "https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/****"},
		{"url userinfo", "https://bob:pw@example.com/hook?token=s3cret", "https://****@example.com/****"},
		{"url bare host", "https://example.com", "https://example.com"},
		{"redis pw", "redis://:s3cret@127.0.0.1:6379/0", "redis://:****@127.0.0.1:6379/0"},
		{"redis user pw", "rediss://kale:s3cret@h:6380/1", "rediss://kale:****@h:6380/1"},
		{"redis no pw", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"cluster", "redis+cluster://kale:s3cret@h1:7001,h2:7002", "redis+cluster://kale:****@h1:7001,h2:7002"},
		{"query password", "redis://h:1/0?password=s3cret&x=1", "redis://h:1/0?password=****&x=1"},
		{"pw with @", "redis://:p@ss@h:1/0", "redis://:****@h:1/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			switch {
			case strings.HasPrefix(tc.name, "value"):
				got = Value(tc.in)
			case strings.HasPrefix(tc.name, "url"), tc.name == "slack":
				got = URL(tc.in)
			default:
				got = Userinfo(tc.in)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
