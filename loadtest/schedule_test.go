package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSchedulerRunsInDueOrderOnBoundedWorkers(t *testing.T) {
	t.Parallel()
	lag := newDurationHist()
	s := newScheduler(time.Now(), lag)
	const n = 2000
	fans := make([]*fan, n)
	for i := range fans {
		fans[i] = &fan{idx: int32(i)}
		// Pushed in reverse: due order, not push order, decides.
		s.at(time.Duration(n-i)*10*time.Microsecond, fans[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var order []int32
	var busy, peak atomic.Int32
	done := make(chan struct{})
	go s.dispatch(ctx)
	go func() {
		defer close(done)
		s.work(4, func(f *fan) {
			if b := busy.Add(1); b > peak.Load() {
				peak.Store(b)
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
	if len(order) != n {
		t.Fatalf("ran %d of %d", len(order), n)
	}
	if peak.Load() > 4 {
		t.Fatalf("%d actions ran at once on 4 workers", peak.Load())
	}
	// With four workers the order may interleave a little, but the first due runs among the first, the last among the last.
	first, last := -1, -1
	for i, idx := range order {
		if idx == n-1 {
			first = i
		}
		if idx == 0 {
			last = i
		}
	}
	if first > 8 || last < n-8 {
		t.Fatalf("due order not kept: earliest ran %dth, latest ran %dth", first, last)
	}
	if lag.percentiles().Count != n {
		t.Fatalf("lag measured %d times", lag.percentiles().Count)
	}
}

func TestSchedulerWakesForAnEarlierAction(t *testing.T) {
	t.Parallel()
	s := newScheduler(time.Now(), nil)
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
