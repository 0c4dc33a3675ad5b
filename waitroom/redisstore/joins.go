package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/onsale/onsale/waitroom"
)

// Joins are batched by group commit: while one script call carries an event's joins, the joins that arrive queue
// up, and when it returns the first of them carries all that queued (up to maxJoinBatch) in one call of joins.lua,
// in order of arrival. No timer and no goroutine: a lone join goes at once, and under load each round trip carries
// every join that arrived during the previous one.

// defaultJoinBatch bounds the joins of one script call, so one call stays short.
const defaultJoinBatch = 256

type joinCall struct {
	bucket, field string
	lane          int
	now, openAt   string
	place         waitroom.Place
	err           error
	lead          bool // woken to carry the queued joins, not with its answer
	done          chan struct{}
}

// joinGroup is one event's queue of joins waiting for the call in flight.
type joinGroup struct {
	calls   atomic.Int64 // script calls made, for tests and benchmarks
	mu      sync.Mutex
	busy    bool
	pending []*joinCall
}

// SetJoinBatch sets how many joins of one event one script call may carry (default 256; 1 sends each join alone).
// Call it before the store is used.
func (s *Store) SetJoinBatch(n int) { s.joinBatch = max(n, 1) }

func (s *Store) join(ctx context.Context, event string, c *joinCall) (waitroom.Place, error) {
	if s.joinBatch <= 1 {
		s.runJoins(ctx, event, []*joinCall{c})
		return c.place, c.err
	}
	gv, _ := s.joins.LoadOrStore(event, &joinGroup{})
	g := gv.(*joinGroup)
	g.mu.Lock()
	if g.busy {
		c.done = make(chan struct{})
		g.pending = append(g.pending, c)
		g.mu.Unlock()
		<-c.done
		if !c.lead {
			return c.place, c.err
		}
		g.mu.Lock() // the previous call handed the queue to this join, the first that waited
	} else {
		g.busy = true
	}
	n := min(len(g.pending), s.joinBatch-1)
	batch := append([]*joinCall{c}, g.pending[:n]...)
	g.pending = g.pending[n:]
	g.mu.Unlock()
	// The call carries other callers' joins: their answers must not depend on this caller's cancellation.
	s.runJoins(context.WithoutCancel(ctx), event, batch)
	g.mu.Lock()
	var next *joinCall
	if len(g.pending) > 0 {
		next, g.pending = g.pending[0], g.pending[1:]
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, o := range batch[1:] {
		close(o.done)
	}
	if next != nil {
		next.lead = true
		close(next.done)
	}
	return c.place, c.err
}

// JoinCalls reports the script calls that carried event's batched joins so far.
func (s *Store) JoinCalls(event string) int64 {
	if gv, ok := s.joins.Load(event); ok {
		return gv.(*joinGroup).calls.Load()
	}
	return 0
}

// runJoins serves calls, in order, in one script call; every call gets its answer or the call's error.
func (s *Store) runJoins(ctx context.Context, event string, calls []*joinCall) {
	k := s.keys(event)
	keys := make([]string, 3, 3+len(calls))
	keys[0], keys[1], keys[2] = k.k("q:state"), k.k("q:seq"), k.k("q:pre")
	args := make([]any, 1, 1+4*len(calls))
	args[0] = lanes
	for _, c := range calls {
		keys = append(keys, c.bucket)
		args = append(args, c.field, c.lane, c.now, c.openAt)
	}
	if gv, ok := s.joins.Load(event); ok {
		gv.(*joinGroup).calls.Add(1)
	}
	r, err := joinsScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err == nil && len(r) != 3*len(calls) {
		err = fmt.Errorf("event %s: join: unexpected reply of %d values for %d joins", event, len(r), len(calls))
	}
	for i, c := range calls {
		if err != nil {
			c.err = translate(event, err)
			continue
		}
		c.place = placeOf(r[3*i], r[3*i+1], r[3*i+2])
	}
}
