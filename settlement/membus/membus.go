// Package membus is the embedded message bus: topic routing, per-queue delivery, a retry delay and a parking
// list, in memory, with the contract of amqpbus. It serves when no broker is configured; messages do not survive
// the process, which the ledger's outbox and the stalled-saga poller make up for.
package membus

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/onsale/onsale/settlement"
)

// Bus routes messages to queues by topic pattern. It is safe for concurrent use.
type Bus struct {
	mu         sync.Mutex
	queues     map[string]*queue
	retryDelay time.Duration
	timers     map[*time.Timer]struct{}
	closed     bool
}

var _ settlement.Bus = (*Bus)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("bus closed")

// New returns a bus with the payments queue declared (so requests published before the first worker attaches
// are kept, as with amqpbus); retried deliveries come back after 50 ms.
func New() *Bus {
	b := &Bus{queues: map[string]*queue{}, retryDelay: 50 * time.Millisecond, timers: map[*time.Timer]struct{}{}}
	b.declare(settlement.PaymentsQueue)
	return b
}

// WithRetryDelay sets how long a retried delivery waits before it comes back.
func (b *Bus) WithRetryDelay(d time.Duration) *Bus {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.retryDelay = d
	return b
}

type queue struct {
	bind   string
	mu     sync.Mutex
	items  []settlement.Delivery
	ready  chan struct{}
	parked []settlement.Delivery
}

func (q *queue) push(d settlement.Delivery) {
	q.mu.Lock()
	q.items = append(q.items, d)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) pop(ctx context.Context) (settlement.Delivery, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			d := q.items[0]
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				q.signal() // another consumer may take the rest
			}
			return d, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return settlement.Delivery{}, false
		case <-q.ready:
		}
	}
}

// Publish routes each message to every queue bound to its topic; in memory, everything is confirmed at once.
func (b *Bus) Publish(_ context.Context, msgs []settlement.Message) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		for _, q := range b.queues {
			if Match(q.bind, m.Topic) {
				q.push(settlement.Delivery{Message: m, Attempt: 1})
			}
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// Declare makes q exist.
func (b *Bus) Declare(_ context.Context, q settlement.Queue) error {
	b.declare(q)
	return nil
}

func (b *Bus) declare(q settlement.Queue) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	mq, ok := b.queues[q.Name]
	if !ok {
		mq = &queue{bind: q.Bind, ready: make(chan struct{}, 1)}
		b.queues[q.Name] = mq
	}
	return mq
}

// Consume hands q's deliveries to h until ctx ends, up to q.Prefetch at once.
func (b *Bus) Consume(ctx context.Context, q settlement.Queue, h settlement.Handler) error {
	mq := b.declare(q)
	sem := make(chan struct{}, max(q.Prefetch, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		d, ok := mq.pop(ctx)
		if !ok {
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b.settle(mq, d, h(ctx, d))
		}()
	}
}

func (b *Bus) settle(mq *queue, d settlement.Delivery, out settlement.Outcome) {
	switch out {
	case settlement.Ack:
	case settlement.Retry:
		d.Attempt++
		b.later(func() { mq.push(d) })
	case settlement.Park:
		mq.mu.Lock()
		mq.parked = append(mq.parked, d)
		mq.mu.Unlock()
	}
}

func (b *Bus) later(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(b.retryDelay, func() {
		b.mu.Lock()
		delete(b.timers, t)
		b.mu.Unlock()
		f()
	})
	b.timers[t] = struct{}{}
}

// Parked returns the deliveries parked on a queue.
func (b *Bus) Parked(queue string) []settlement.Delivery {
	b.mu.Lock()
	mq, ok := b.queues[queue]
	b.mu.Unlock()
	if !ok {
		return nil
	}
	mq.mu.Lock()
	defer mq.mu.Unlock()
	return append([]settlement.Delivery(nil), mq.parked...)
}

// Ping always succeeds until Close.
func (b *Bus) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Close stops pending retries; Publish fails afterwards.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for t := range b.timers {
		t.Stop()
	}
	clear(b.timers)
	return nil
}

// Match reports whether an AMQP topic pattern matches a routing key: "*" is one word, "#" zero or more.
func Match(pattern, key string) bool {
	return match(strings.Split(pattern, "."), strings.Split(key, "."))
}

func match(p, k []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "#":
			for i := 0; i <= len(k); i++ {
				if match(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || k[0] != p[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}
