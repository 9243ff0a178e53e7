// Package priority lets interactive work run ahead of background work in the same process.
//
// Kale runs its analyzer cycles, the oculus indexer and interactive search on the same few
// cores. A search holds the Gate (Enter) while it runs; background loops call Wait between
// small units of work (a batch of metrics, a batch of documents), which returns at once when
// no search is running and otherwise parks the caller until the searches are done. A
// background caller is never parked for longer than MaxPause per call, so a steady stream of
// searches slows background work down but cannot stop it.
//
// The zero Gate is ready to use; a nil *Gate never waits.
package priority

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxPause bounds how long one Wait call parks background work.
const DefaultMaxPause = 250 * time.Millisecond

// Gate is held by foreground work (Enter) and waited on by background work (Wait).
type Gate struct {
	// MaxPause bounds one Wait; 0 means DefaultMaxPause.
	MaxPause time.Duration

	mu     sync.Mutex
	active int           // foreground holders
	idle   chan struct{} // closed when active drops to 0; nil while active == 0
	waits  int64         // Wait calls that parked
	parked time.Duration // total time parked
}

// Enter marks the start of foreground work and returns the function that marks its end
// (call it exactly once; extra calls are ignored).
func (g *Gate) Enter() (leave func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if g.active == 0 {
		g.idle = make(chan struct{})
	}
	g.active++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.active--
			if g.active == 0 {
				close(g.idle)
				g.idle = nil
			}
			g.mu.Unlock()
		})
	}
}

// Busy reports whether foreground work is running now.
func (g *Gate) Busy() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active > 0
}

// Wait returns at once when no foreground work runs; otherwise it waits until none does, for
// at most MaxPause, or until ctx is done (then it returns ctx.Err()).
func (g *Gate) Wait(ctx context.Context) error {
	if g == nil {
		return ctx.Err()
	}
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	if idle == nil {
		return ctx.Err()
	}
	pause := g.MaxPause
	if pause <= 0 {
		pause = DefaultMaxPause
	}
	start := time.Now()
	t := time.NewTimer(pause)
	defer t.Stop()
	var err error
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	g.waits++
	g.parked += time.Since(start)
	g.mu.Unlock()
	return err
}

// Stats returns how many Wait calls parked and for how long in total.
func (g *Gate) Stats() (waits int64, parked time.Duration) {
	if g == nil {
		return 0, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waits, g.parked
}
