package loadtest

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler runs actions at their due time on a bounded pool of workers. Waiting actions cost a heap entry, not a
// goroutine: a hundred thousand fans sleeping between polls are a hundred thousand entries, and only Workers
// goroutines ever send requests. T is what acts: a fan during the sale, a ticket holder at the door.
type scheduler[T any] struct {
	start time.Time
	mu    sync.Mutex
	h     dueHeap[T]
	seq   uint64        // ties break in push order, so equal due times run first come, first served
	wake  chan struct{} // a push that may be earlier than what the dispatcher waits for
	out   chan dueItem[T]
	lag   *durationHist
}

// dueItem is one action due at a time (an offset from start).
type dueItem[T any] struct {
	at  time.Duration
	seq uint64
	f   T
}

type dueHeap[T any] []dueItem[T]

func (h dueHeap[T]) Len() int { return len(h) }
func (h dueHeap[T]) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap[T]) Push(x any)   { *h = append(*h, x.(dueItem[T])) }
func (h *dueHeap[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem[T]{}
	*h = old[:len(old)-1]
	return it
}

func newScheduler[T any](start time.Time, lag *durationHist) *scheduler[T] {
	return &scheduler[T]{start: start, wake: make(chan struct{}, 1), out: make(chan dueItem[T]), lag: lag}
}

// now is the offset from start.
func (s *scheduler[T]) now() time.Duration { return time.Since(s.start) }

// at schedules f at offset at from start.
func (s *scheduler[T]) at(at time.Duration, f T) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	heap.Push(&s.h, dueItem[T]{at: at, seq: seq, f: f})
	first := s.h[0].seq == seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// after schedules f d from now.
func (s *scheduler[T]) after(d time.Duration, f T) { s.at(s.now()+max(d, 0), f) }

// pending is how many actions wait.
func (s *scheduler[T]) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

// dispatch hands due actions to the workers until ctx ends, then closes the workers' channel. When every worker is
// busy it blocks: actions then run late, and the lag histogram shows it.
func (s *scheduler[T]) dispatch(ctx context.Context) {
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
func (s *scheduler[T]) work(n int, act func(T)) {
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
