package listener

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Budget bounds the bytes of TCP payloads held in memory at once across every connection of
// every listener (--max-inflight-bytes): the body of a pickle frame from its first chunk until
// it is decoded and handed to the sink, and a plaintext connection's read buffer beyond its
// small fixed base. One Budget is shared by all TCP listeners of a process.
//
// A connection charges a chunk once its first bytes have arrived. When the budget is
// exhausted the chunk waits. While it waits, connections holding budget inside a partial
// payload whose sender has sent nothing for StallAfter are closed (counted as evicted) to free
// theirs. If there are none but connections, the waiter included, have themselves waited for
// budget that long inside partial payloads (each holding part of a payload the others need
// room for), the one holding the most is closed. A chunk still without budget after WaitMax is
// refused: its connection is closed and counted over_budget.
type Budget struct {
	limit      int
	stallAfter time.Duration
	waitMax    time.Duration
	gauge      prometheus.Gauge

	mu      sync.Mutex
	used    int
	freed   chan struct{} // closed and replaced whenever bytes are released
	holders map[*conn]struct{}
}

// Defaults of the budget's waiting rules.
const (
	defaultStallAfter = time.Second      // a partial payload without progress this long may be evicted
	defaultWaitMax    = 10 * time.Second // a chunk waiting longer for budget is refused
)

// errOverBudget is returned when a chunk could not get budget within WaitMax.
var errOverBudget = errors.New("in-flight byte budget (--max-inflight-bytes) exhausted")

// errEvicted is returned to a connection evicted while it waited for budget.
var errEvicted = errors.New("connection evicted")

// NewBudget returns a budget of limit bytes reporting its use on gauge (nil: not reported).
func NewBudget(limit int, gauge prometheus.Gauge) *Budget {
	return &Budget{limit: limit, stallAfter: defaultStallAfter, waitMax: defaultWaitMax, gauge: gauge,
		freed: make(chan struct{}), holders: map[*conn]struct{}{}}
}

// Used reports the bytes currently charged.
func (b *Budget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// grantLocked charges n bytes to c if they fit. When nothing is charged to other connections
// a request over the limit is granted too, so one payload can always make progress.
func (b *Budget) grantLocked(c *conn, n int) bool {
	if b.used+n > b.limit && b.used > c.held {
		return false
	}
	b.used += n
	c.held += n
	b.holders[c] = struct{}{}
	b.report()
	return true
}

func (b *Budget) report() {
	if b.gauge != nil {
		b.gauge.Set(float64(b.used))
	}
}

// tryAcquire charges n bytes to c if they are available now.
func (b *Budget) tryAcquire(c *conn, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.grantLocked(c, n)
}

// acquire charges n bytes to c, waiting (and evicting stalled holders) as described on
// Budget. It returns errOverBudget after WaitMax, errEvicted if c itself was evicted while
// waiting, or ctx's error.
func (b *Budget) acquire(ctx context.Context, c *conn, n int) error {
	b.mu.Lock()
	if b.grantLocked(c, n) {
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	prev := c.state.Swap(connWaiting)
	defer c.state.Store(prev)
	deadline := time.Now().Add(b.waitMax)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		b.mu.Lock()
		if c.evicted.Load() {
			b.mu.Unlock()
			return errEvicted
		}
		if b.grantLocked(c, n) {
			b.mu.Unlock()
			c.last.Store(time.Now().UnixNano()) // the stall clock restarts once the wait is over
			return nil
		}
		now := time.Now()
		victims := b.stalledLocked(c, b.used+n-b.limit, now)
		reasons := make([]error, len(victims))
		for i, v := range victims {
			reasons[i] = fmt.Errorf("no progress for %v inside a payload holding %d bytes of the in-flight budget; closed to free them",
				now.Sub(time.Unix(0, v.last.Load())).Round(time.Millisecond), v.held)
			if v.state.Load() == connWaiting {
				reasons[i] = fmt.Errorf("waited %v for in-flight budget inside a payload holding the most of it (%d bytes) while others waited too; closed to free them",
					now.Sub(time.Unix(0, v.last.Load())).Round(time.Millisecond), v.held)
			}
		}
		if len(victims) > 0 {
			b.wakeLocked() // a victim waiting for budget itself must notice and give its bytes back
		}
		freed := b.freed
		b.mu.Unlock()
		for i, v := range victims {
			v.closeEvicted(reasons[i])
			if v == c {
				return errEvicted
			}
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return errOverBudget
		}
		timer.Reset(min(wait, b.stallAfter/4)) // holders become stalled with time alone
		select {
		case <-freed:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stalledLocked picks and marks evicted holders whose bytes should make room for self's
// need: first, oldest progress first, holders other than self stalled in a read inside a
// partial payload, until their bytes cover need; if there are none, the holder (self
// included) holding the most among those starved of budget for stallAfter. Marking them
// under the budget's lock means two waiters never evict each other. Holders already evicted
// and not yet released count towards need without being picked again.
func (b *Budget) stalledLocked(self *conn, need int, now time.Time) []*conn {
	var stalled []*conn
	var starved *conn
	for h := range b.holders {
		if h.held == 0 {
			continue
		}
		if h.evicted.Load() {
			need -= h.held
			continue
		}
		if h != self && h.stalled(now, b.stallAfter) {
			stalled = append(stalled, h)
		}
		if h.starved(now, b.stallAfter) && (starved == nil || h.held > starved.held) {
			starved = h
		}
	}
	if need <= 0 {
		return nil
	}
	sort.Slice(stalled, func(i, j int) bool { return stalled[i].last.Load() < stalled[j].last.Load() })
	var victims []*conn
	for _, h := range stalled {
		if need <= 0 {
			break
		}
		if h.evicted.CompareAndSwap(false, true) {
			victims = append(victims, h)
			need -= h.held
		}
	}
	if len(victims) == 0 && starved != nil && starved.evicted.CompareAndSwap(false, true) {
		victims = append(victims, starved)
	}
	return victims
}

// wakeLocked wakes every waiter to check the budget again.
func (b *Budget) wakeLocked() {
	close(b.freed)
	b.freed = make(chan struct{})
}

// release returns everything c holds and wakes the waiters.
func (b *Budget) release(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.held == 0 {
		return
	}
	b.used -= c.held
	c.held = 0
	delete(b.holders, c)
	b.report()
	b.wakeLocked()
}
