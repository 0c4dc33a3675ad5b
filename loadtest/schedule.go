package loadtest

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler runs actions at their due time on a bounded pool of workers. Waiting actions cost a heap entry, not a
// goroutine: a hundred thousand fans sleeping between polls are a hundred thousand entries, and only Workers
// goroutines ever send requests.
type scheduler struct {
	start time.Time
	mu    sync.Mutex
	h     dueHeap
	seq   uint64        // ties break in push order, so equal due times run first come, first served
	wake  chan struct{} // a push that may be earlier than what the dispatcher waits for
	out   chan dueItem
	lag   *durationHist
}

// dueItem is one action due at a time (an offset from start).
type dueItem struct {
	at  time.Duration
	seq uint64
	f   *fan
}

type dueHeap []dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	return it
}

func newScheduler(start time.Time, lag *durationHist) *scheduler {
	return &scheduler{start: start, wake: make(chan struct{}, 1), out: make(chan dueItem), lag: lag}
}

// now is the offset from start.
func (s *scheduler) now() time.Duration { return time.Since(s.start) }

// at schedules f at offset at from start.
func (s *scheduler) at(at time.Duration, f *fan) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.h, dueItem{at: at, seq: s.seq, f: f})
	first := s.h[0].f == f && s.h[0].at == at
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// after schedules f d from now.
func (s *scheduler) after(d time.Duration, f *fan) { s.at(s.now()+max(d, 0), f) }

// pending is how many actions wait.
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

// dispatch hands due actions to the workers until ctx ends, then closes the workers' channel. When every worker is
// busy it blocks: actions then run late, and the lag histogram shows it.
func (s *scheduler) dispatch(ctx context.Context) {
	defer close(s.out)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.h) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		next := s.h[0]
		now := s.now()
		if next.at <= now {
			heap.Pop(&s.h)
			s.mu.Unlock()
			select {
			case s.out <- next:
			case <-ctx.Done():
				return
			}
			continue
		}
		s.mu.Unlock()
		timer.Reset(next.at - now)
		select {
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// work runs n workers that call act for each due action, until the dispatcher stops; it returns when all are done.
func (s *scheduler) work(n int, act func(*fan)) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for it := range s.out {
				if s.lag != nil {
					s.lag.add(s.now() - it.at)
				}
				act(it.f)
			}
		})
	}
	wg.Wait()
}
