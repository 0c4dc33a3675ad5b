package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrClosed is returned by Hold after Close.
var ErrClosed = errors.New("redisstore: store closed")

// holdCall is one Hold waiting for its batch.
type holdCall struct {
	id   string
	keys []string
	args []any
	v    any
	err  error
	done chan struct{}
}

// batcher gathers concurrent holds into pipelines of EVALSHAs: one round trip carries up to max holds, and a batch
// waits at most window after its first hold. Several batches may be in flight at once (inflight), so a slow round
// trip does not stop the next batch from forming.
type batcher struct {
	s      *Store
	max    int
	window time.Duration
	in     chan *holdCall
	mu     sync.RWMutex // held for reading while sending on in; Close takes it to close in safely
	closed bool
	slots  chan struct{}
	wg     sync.WaitGroup
	loopWG sync.WaitGroup
}

const inflight = 8

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
		b.slots <- struct{}{}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.exec(context.Background(), batch)
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

// exec sends a batch as one pipeline. Holds the server refused with NOSCRIPT (its script cache was flushed) did not
// run, so they are sent again after the scripts are loaded again.
func (b *batcher) exec(ctx context.Context, batch []*holdCall) {
	s := b.s
	b.s.m.batchSize.Observe(float64(len(batch)))
	todo := batch
	for attempt := 0; ; attempt++ {
		start := time.Now()
		cmds := make([]*redis.Cmd, len(todo))
		if len(todo) == 1 {
			cmds[0] = s.c.EvalSha(ctx, s.sc.hold.Hash(), todo[0].keys, todo[0].args...)
		} else {
			pipe := s.c.Pipeline()
			for i, c := range todo {
				cmds[i] = pipe.EvalSha(ctx, s.sc.hold.Hash(), c.keys, c.args...)
			}
			_, _ = pipe.Exec(ctx) // each command carries its own error
		}
		s.m.roundtrip.Observe(time.Since(start).Seconds())
		var again []*holdCall
		for i, c := range todo {
			c.v, c.err = cmds[i].Val(), cmds[i].Err()
			if isNoScript(c.err) && attempt == 0 {
				again = append(again, c)
				continue
			}
			c.err = scriptErr(c.err)
		}
		if len(again) == 0 {
			return
		}
		if err := s.sc.hold.Load(ctx, s.c).Err(); err != nil {
			for _, c := range again {
				c.err = err
			}
			return
		}
		todo = again
	}
}
