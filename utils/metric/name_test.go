package metric

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCheckName(t *testing.T) {
	require.NoError(t, CheckName("a.b-c_d:e;f=g+h%i@j~k#l/m,n", 255))
	require.NoError(t, CheckName([]byte("x.y"), 255))
	require.ErrorIs(t, CheckName("", 255), ErrEmptyName)
	require.ErrorIs(t, CheckName("abcd", 3), ErrNameTooLong)
	for _, bad := range []string{"a b", "a\"b", "<script>", "caf\xc3\xa9", "\xff", "tab\t"} {
		require.ErrorIs(t, CheckName(bad, 255), ErrNameCharset, "%q", bad)
		require.ErrorIs(t, CheckName([]byte(bad), 255), ErrNameCharset, "%q", bad)
	}
	long := strings.Repeat("é", 100)
	err := CheckName(long, 1000)
	require.ErrorIs(t, err, ErrNameCharset)
	require.True(t, utf8.ValidString(err.Error()), "the message stays valid UTF-8")
}
