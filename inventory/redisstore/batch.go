package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/inventory/lua"
)

// ErrClosed is returned by Hold after Close.
var ErrClosed = errors.New("redisstore: store closed")

// holdCall is one Hold waiting for its batch.
type holdCall struct {
	event   string
	keys    [3]string // fan, idempotency key, hold
	secs    []string  // the hold's sections in order of first appearance, named seats first
	args    []any     // fingerprint, seats and items, each naming its section by its index in secs
	secArgs []int     // where args hold a section index, which the batch turns into its own
	id      string    // the new hold's id
	v       any       // the hold's entry of the reply
	shared  any       // the reply's last entry: what the call's new holds share
	err     error
	done    chan struct{}
	// Room for a common hold's args, sections and section indexes, so building one allocates less.
	argBuf    [8]any
	secBuf    [2]string
	secArgBuf [2]int
}

// batcher gathers concurrent holds into batches: one round trip carries up to max holds, and a batch waits at most
// window after its first hold. The holds of one event go in one call of the hold script (it serves them in order,
// each all or nothing); the calls for several events go in one pipeline. Several batches may be in flight at once (inflight), so a slow round
// trip does not stop the next batch from forming.
type batcher struct {
	s      *Store
	max    int
	window time.Duration
	in     chan *holdCall
	mu     sync.RWMutex // held for reading while sending on in; Close takes it to close in safely
	closed bool
	slots  chan struct{}
	busy   atomic.Int32 // batches in flight
	trips  atomic.Int64 // round trips sent, for the benchmarks' holds per round trip
	sent   atomic.Int64 // holds sent
	wg     sync.WaitGroup
	loopWG sync.WaitGroup
}

// inflight bounds the batches on the wire at once. Redis runs scripts one at a time, so a few in flight keep it busy;
// more would only split the waiting holds into smaller batches, and a batch costs the server less per hold the larger
// it is (one script call, one clock read, one reclaim, one write of each section's counters).
const inflight = 4

func newBatcher(s *Store, max int, window time.Duration) *batcher {
	b := &batcher{s: s, max: max, window: window, in: make(chan *holdCall, 4*max), slots: make(chan struct{}, inflight)}
	if max > 1 {
		b.loopWG.Add(1)
		go b.loop()
	}
	return b
}

// do runs one hold, in a batch unless batching is off (max 1).
func (b *batcher) do(ctx context.Context, c *holdCall) (any, error) {
	if b.max <= 1 {
		b.mu.RLock()
		closed := b.closed
		b.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		b.exec(ctx, []*holdCall{c})
		return c.v, c.err
	}
	c.done = make(chan struct{})
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case b.in <- c:
	case <-ctx.Done():
		b.mu.RUnlock()
		return nil, ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		// The hold may still be made; a caller that must know repeats the request with its idempotency key.
		return nil, ctx.Err()
	}
}

func (b *batcher) loop() {
	defer b.loopWG.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-b.in
		if !ok {
			return
		}
		batch := make([]*holdCall, 1, b.max)
		batch[0] = first
		open := true
	drain: // what is queued already goes along
		for len(batch) < b.max {
			select {
			case c, ok := <-b.in:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		// Waiting for more only pays while earlier batches are on the wire: an idle store sends at once, so a lone
		// hold gets no added latency, and under load batches fill while the round trips are under way.
		if open && len(batch) < b.max && b.busy.Load() > 0 {
			timer.Reset(b.window)
		gather:
			for len(batch) < b.max {
				select {
				case c, ok := <-b.in:
					if !ok {
						break gather
					}
					batch = append(batch, c)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		b.slots <- struct{}{}
		b.busy.Add(1)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.exec(context.Background(), batch)
			b.busy.Add(-1)
			<-b.slots
			for _, c := range batch {
				close(c.done)
			}
		}()
	}
}

// close stops taking holds, sends the ones waiting and waits for every batch in flight.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	if b.max > 1 {
		close(b.in)
	}
	b.mu.Unlock()
	b.loopWG.Wait()
	b.wg.Wait()
}

// exec sends a batch in one round trip: one hold script call per event, pipelined. Calls the server refused with
// NOSCRIPT (its script cache was flushed) did not run, so they are sent again with EVAL and the script's source,
// which a flush between a reload and the resend cannot refuse.
func (b *batcher) exec(ctx context.Context, batch []*holdCall) {
	s := b.s
	s.m.batchSize.Observe(float64(len(batch)))
	b.trips.Add(1)
	b.sent.Add(int64(len(batch)))
	groups := groupByEvent(batch)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		cmds := make([]*redis.Cmd, len(groups))
		run := func(c redis.Scripter, g eventGroup) *redis.Cmd {
			keys, args := g.script(s)
			if attempt == 0 {
				return c.EvalSha(ctx, s.sc.hold.Hash(), keys, args...)
			}
			return c.Eval(ctx, lua.Hold, keys, args...)
		}
		if len(groups) == 1 {
			cmds[0] = run(s.c, groups[0])
		} else {
			pipe := s.c.Pipeline()
			for i, g := range groups {
				cmds[i] = run(pipe, g)
			}
			_, _ = pipe.Exec(ctx) // each command carries its own error
		}
		s.m.roundtrip.Observe(time.Since(start).Seconds())
		var again []eventGroup
		for i, g := range groups {
			err := cmds[i].Err()
			if isNoScript(err) && attempt == 0 {
				again = append(again, g)
				continue
			}
			g.deliver(cmds[i].Val(), scriptErr(err))
		}
		if len(again) == 0 {
			return
		}
		groups = again
	}
}

// eventGroup is the holds of one event in a batch, in arrival order.
type eventGroup []*holdCall

func groupByEvent(batch []*holdCall) []eventGroup {
	if len(batch) == 1 {
		return []eventGroup{batch}
	}
	idx := make(map[string]int, 4)
	var groups []eventGroup
	for _, c := range batch {
		i, ok := idx[c.event]
		if !ok {
			i = len(groups)
			idx[c.event] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// script builds the hold script's keys and arguments for the group: the event's keys, the sections of all its holds
// once each, then each hold's keys and arguments with its sections numbered in that list.
func (g eventGroup) script(s *Store) ([]string, []any) {
	var secs []string
	na := 2
	for _, c := range g {
		na += len(c.args)
		for _, sec := range c.secs {
			if !slices.Contains(secs, sec) {
				secs = append(secs, sec)
			}
		}
	}
	keys := s.base(g[0].event, 2*len(secs)+3*len(g))
	p := keys[0]
	args := make([]any, 0, na+len(secs))
	args = append(args, len(g), len(secs))
	for _, sec := range secs {
		keys = append(keys, p+"sec:"+sec, p+"seats:"+sec)
		args = append(args, sec)
	}
	for _, c := range g {
		keys = append(keys, c.keys[:]...)
		base := len(args)
		args = append(args, c.args...)
		for _, at := range c.secArgs {
			args[base+at] = slices.Index(secs, c.secs[c.args[at].(int)]) + 1
		}
	}
	return keys, args
}

// deliver hands each hold its entry of the reply and the shared last entry, or the call's error.
func (g eventGroup) deliver(v any, err error) {
	vals, _ := v.([]any)
	for i, c := range g {
		switch {
		case err != nil:
			c.err = err
		case len(vals) == len(g)+1:
			c.v, c.shared = vals[i], vals[len(g)]
		default:
			c.err = fmt.Errorf("hold script: %d replies for %d holds", len(vals), len(g))
		}
	}
}
