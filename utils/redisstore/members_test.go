package redisstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redisstore"
)

func TestMembersExistSizes(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		require.NoError(t, s.Append(ctx, map[string][]byte{"metrics.a": []byte("abc"), "mini.a": []byte("x")}, nil).Err)

		failed, err := s.AddMembers(ctx, []string{"metrics.b", "mini.b"})
		require.NoError(t, err)
		require.Empty(t, failed)
		full, err := s.Members(ctx, "metrics.")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"metrics.a", "metrics.b"}, full)

		require.NoError(t, s.RemoveMembers(ctx, []string{"metrics.b", "mini.a", "mini.b"}))
		full, err = s.Members(ctx, "metrics.")
		require.NoError(t, err)
		require.Equal(t, []string{"metrics.a"}, full)
		mini, err := s.Members(ctx, "mini.")
		require.NoError(t, err)
		require.Empty(t, mini)

		exist, err := s.Exist(ctx, []string{"metrics.a", "metrics.b", "mini.a"})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, true}, exist)
		sizes, err := s.Sizes(ctx, []string{"metrics.a", "metrics.b", "mini.a"})
		require.NoError(t, err)
		require.Equal(t, []int64{3, 0, 1}, sizes)

		exist, err = s.Exist(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, exist)
		require.NoError(t, s.RemoveMembers(ctx, nil))
	})
}
