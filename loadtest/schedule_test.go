package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runAll schedules n fans due in the reverse of their push order and runs them on workers; it returns the order
// they ran in and the most that ran at once.
func runAll(t *testing.T, n, workers int) (order []int32, peak int32, lag *durationHist) {
	t.Helper()
	lag = newDurationHist()
	s := newScheduler[*fan](time.Now(), lag)
	for i := range n {
		s.at(time.Duration(n-i)*10*time.Microsecond, &fan{idx: int32(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var busy, top atomic.Int32
	done := make(chan struct{})
	go s.dispatch(ctx)
	go func() {
		defer close(done)
		s.work(workers, func(f *fan) {
			if b := busy.Add(1); b > top.Load() {
				top.Store(b)
			}
			mu.Lock()
			order = append(order, f.idx)
			finished := len(order) == n
			mu.Unlock()
			busy.Add(-1)
			if finished {
				cancel()
			}
		})
	}()
	<-done
	return order, top.Load(), lag
}

func TestSchedulerRunsInDueOrder(t *testing.T) {
	t.Parallel()
	const n = 2000
	order, _, lag := runAll(t, n, 1)
	if len(order) != n {
		t.Fatalf("ran %d of %d", len(order), n)
	}
	for i, idx := range order {
		if want := int32(n - 1 - i); idx != want { // pushed last, due first
			t.Fatalf("%dth action was fan %d, want fan %d", i, idx, want)
		}
	}
	if lag.percentiles().Count != n {
		t.Fatalf("lag measured %d times", lag.percentiles().Count)
	}
}

func TestSchedulerBoundsItsWorkers(t *testing.T) {
	t.Parallel()
	const n = 2000
	order, peak, _ := runAll(t, n, 4)
	if len(order) != n {
		t.Fatalf("ran %d of %d", len(order), n)
	}
	if peak > 4 {
		t.Fatalf("%d actions ran at once on 4 workers", peak)
	}
	seen := map[int32]bool{}
	for _, idx := range order {
		if seen[idx] {
			t.Fatalf("fan %d ran twice", idx)
		}
		seen[idx] = true
	}
}

func TestSchedulerWakesForAnEarlierAction(t *testing.T) {
	t.Parallel()
	s := newScheduler[*fan](time.Now(), nil)
	late, early := &fan{idx: 1}, &fan{idx: 2}
	s.after(time.Hour, late)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan int32, 2)
	go s.dispatch(ctx)
	go s.work(1, func(f *fan) { ran <- f.idx })
	s.after(0, early) // the dispatcher sleeps towards an hour; this must not wait for it
	select {
	case idx := <-ran:
		if idx != 2 {
			t.Fatalf("ran fan %d first", idx)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the earlier action did not run")
	}
	if s.pending() != 1 {
		t.Fatalf("pending %d, want the hour-late one", s.pending())
	}
}
