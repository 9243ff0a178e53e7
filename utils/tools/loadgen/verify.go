package loadgen

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// verifier counts the generator's datapoints in Redis. Counts are relative to a baseline read
// before sending, so leftovers of an earlier run under the same prefix are not counted (a
// Roomba pass that trims or purges those leftovers during the run would skew the count: use
// a fresh prefix or database for exact numbers).
type verifier struct {
	store     *redisstore.Store
	keys      []string
	basePairs int64
	baseBytes int64
	lastTS    []int64 // per key: the newest stored timestamp before the run (0: none)
}

// verifyChunk bounds the keys read at once, so counting a long run does not load every
// series into memory together.
const verifyChunk = 128

func newVerifier(ctx context.Context, url, namespace string, names []string) (*verifier, error) {
	if url == "embedded" {
		return nil, fmt.Errorf("cannot verify in an embedded Redis: it lives inside the kale process that runs horizon; pass the redis:// address that process prints")
	}
	store, err := redisstore.Open(url, redisstore.Options{FullNamespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("cannot open --verify-redis: %w", err)
	}
	if err := store.Ping(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	v := &verifier{store: store, keys: make([]string, len(names)), lastTS: make([]int64, len(names))}
	for i, n := range names {
		v.keys[i] = store.FullKey(n)
	}
	if v.basePairs, err = v.pairs(ctx, v.lastTS); err != nil {
		_ = store.Close()
		return nil, err
	}
	if v.baseBytes, err = v.bytes(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	return v, nil
}

func (v *verifier) Close() error { return v.store.Close() }

// pairs counts the decoded [ts, value] pairs of every key and, when lastTS is not nil,
// records each key's newest timestamp in it.
func (v *verifier) pairs(ctx context.Context, lastTS []int64) (int64, error) {
	var n int64
	for start := 0; start < len(v.keys); start += verifyChunk {
		raws, err := v.store.Raw(ctx, v.keys[start:min(start+verifyChunk, len(v.keys))])
		if err != nil {
			return 0, err
		}
		for i, raw := range raws {
			emit := func(_, _ metric.Number) {}
			if lastTS != nil {
				last := &lastTS[start+i]
				emit = func(ts, _ metric.Number) { *last = max(*last, int64(ts.Float64())) }
			}
			n += int64(redisstore.DecodeNumbers(raw, emit).Pairs)
		}
	}
	return n, nil
}

// bytes sums the stored length of every key (one pipelined STRLEN each): a cheap progress
// probe between exact counts.
func (v *verifier) bytes(ctx context.Context) (int64, error) {
	sizes, err := v.store.Sizes(ctx, v.keys)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, size := range sizes {
		n += size
	}
	return n, nil
}

// wait polls until the stored count reaches sent, or stops growing for idle, or timeout
// passes, and returns the datapoints stored since the baseline.
func (v *verifier) wait(ctx context.Context, sent int64, timeout, idle time.Duration, out io.Writer) (int64, error) {
	deadline := time.Now().Add(timeout)
	lastSize, lastChange := int64(-1), time.Now()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		size, err := v.bytes(ctx)
		if err != nil {
			return 0, err
		}
		now := time.Now()
		if size != lastSize {
			lastSize, lastChange = size, now
		}
		settled := now.Sub(lastChange) >= idle
		if size-v.baseBytes >= sent*pairBytes || settled || now.After(deadline) {
			n, err := v.pairs(ctx, nil)
			if err != nil {
				return 0, err
			}
			stored := n - v.basePairs
			if stored >= sent || settled {
				return stored, nil
			}
			if now.After(deadline) {
				fmt.Fprintf(out, "loadgen: verification timed out after %v while Redis was still growing\n", timeout)
				return stored, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cannot verify the stored datapoints: %w", ctx.Err())
		case <-poll.C:
		}
	}
}
