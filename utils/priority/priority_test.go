package priority

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWaitReturnsAtOnceWhenIdle(t *testing.T) {
	var g Gate
	start := time.Now()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("idle Wait took %v", d)
	}
	if w, _ := g.Stats(); w != 0 {
		t.Fatalf("idle Wait counted as parked: %d", w)
	}
}

func TestWaitParksUntilLeave(t *testing.T) {
	g := Gate{MaxPause: 5 * time.Second}
	leave := g.Enter()
	if !g.Busy() {
		t.Fatal("Busy is false while a holder is inside")
	}
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		_ = g.Wait(context.Background())
		done <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	leave()
	leave() // extra calls are ignored
	select {
	case d := <-done:
		if d < 40*time.Millisecond {
			t.Fatalf("Wait returned after %v, before the holder left", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return after the holder left")
	}
	if g.Busy() {
		t.Fatal("Busy after every holder left")
	}
}

func TestWaitBoundedByMaxPause(t *testing.T) {
	g := Gate{MaxPause: 30 * time.Millisecond}
	defer g.Enter()()
	start := time.Now()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > time.Second {
		t.Fatalf("Wait parked %v, want about 30ms", d)
	}
	if w, p := g.Stats(); w != 1 || p < 25*time.Millisecond {
		t.Fatalf("stats = %d, %v", w, p)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	g := Gate{MaxPause: 10 * time.Second}
	defer g.Enter()()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestNilGate(t *testing.T) {
	var g *Gate
	g.Enter()()
	if g.Busy() {
		t.Fatal("nil gate busy")
	}
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentHolders(t *testing.T) {
	var g Gate
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leave := g.Enter()
			time.Sleep(time.Millisecond)
			leave()
		}()
	}
	wg.Wait()
	if g.Busy() {
		t.Fatal("busy after all holders left")
	}
}

func BenchmarkWaitIdle(b *testing.B) {
	var g Gate
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		_ = g.Wait(ctx)
	}
}
