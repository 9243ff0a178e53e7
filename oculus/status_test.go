package oculus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// After a restart the on-disk index holds every document at once, but searches find the
// series only once the first sync has loaded them: Status reports the searchable ones.
func TestStatusDocumentsAreSearchable(t *testing.T) {
	e := newEnv(t)
	e.cfg.IndexPath = filepath.Join(t.TempDir(), "index")
	rng := rand.New(rand.NewPCG(5, 5))
	corpus := map[string][]float64{}
	for i := range 30 {
		corpus[fmt.Sprintf("st.m%02d", i)] = randomWalk(rng, 40)
	}
	e.put(corpus)
	ctx := context.Background()
	s1, err := New(e.options())
	require.NoError(t, err)
	_, err = s1.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 30, s1.Status(ctx).Documents)
	require.NoError(t, s1.Close())

	s2 := e.service() // the same index directory, reopened
	st := s2.Status(ctx)
	require.Zero(t, st.Documents, "nothing is searchable before the first sync")
	require.True(t, st.CatchingUp)
	res, err := s2.Search(ctx, Query{Values: corpus["st.m07"], K: 3})
	require.NoError(t, err)
	require.Empty(t, res.Results)

	_, err = s2.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 30, s2.Status(ctx).Documents)
	res, err = s2.Search(ctx, Query{Values: corpus["st.m07"], K: 3})
	require.NoError(t, err)
	require.Equal(t, "st.m07", res.Results[0].Metric)
}
