package webapp

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The dashboard's cycle line splits the cycle's anomalies into new and carried over, as the
// cycle document does.
func TestDashboardCycleLine(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true, analyze: true})
	cur, err := e.server.records.Current(context.Background())
	require.NoError(t, err)
	c := cur.Cycle
	require.Positive(t, c.Anomalies, "the demo data set has anomalies")
	require.Equal(t, c.Anomalies, c.AnomaliesNew+c.AnomaliesCarried)
	res, body := e.get("/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, fmt.Sprintf("%d anomalous (%d new, %d still current from earlier cycles).",
		c.Anomalies, c.AnomaliesNew, c.AnomaliesCarried))
}
