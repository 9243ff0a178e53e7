package webapp

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every labelled counter of the webapp is exported at 0 for each known label value before its
// first event, so absent() alerts and dashboards work from the start.
func TestCountersExistBeforeTheirFirstEvent(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	_, body := e.get("/metrics")
	for _, tc := range []struct {
		family string
		values []string
	}{
		{"kale_webapp_search_failed_total", searchFailReasons},
		{"kale_webapp_writes_refused_total", writeRefusalReasons},
	} {
		t.Run(tc.family, func(t *testing.T) {
			for _, v := range tc.values {
				require.Contains(t, body, tc.family+`{reason="`+v+`"} 0`+"\n")
			}
		})
	}
}

// The lists of reasons name every reason the code counts.
func TestCounterReasonsAreListed(t *testing.T) {
	for _, tc := range []struct {
		counter string
		listed  []string
	}{
		{"searchFailed", searchFailReasons},
		{"writesRefused", writeRefusalReasons},
	} {
		t.Run(tc.counter, func(t *testing.T) {
			used := regexp.MustCompile(`m\.` + tc.counter + `\.WithLabelValues\("([a-z_]+)"\)`)
			found := 0
			for _, f := range []string{"search.go", "security.go"} {
				src, err := os.ReadFile(f)
				require.NoError(t, err)
				for _, m := range used.FindAllStringSubmatch(string(src), -1) {
					require.Contains(t, tc.listed, m[1], f)
					found++
				}
			}
			require.Positive(t, found)
		})
	}
}
