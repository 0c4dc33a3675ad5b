package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/onsale/onsale/inventory"
)

// snapshots keeps one rendering per event, at most ttl old: a crowd reading it costs the inventory one render per
// event per ttl, and concurrent misses wait for the one render under way instead of each rendering. An event the
// inventory does not know gets no entry.
type snapshots[T any] struct {
	ttl    time.Duration
	now    func() time.Time
	render func(ctx context.Context, event string, now time.Time) (T, error)

	mu      sync.Mutex
	entries map[string]*snapshot[T]
}

type snapshot[T any] struct {
	mu      sync.Mutex // held while rendering: the single flight
	v       T
	ok      bool
	expires time.Time
}

// maxSnapshots bounds a cache; only events that exist get an entry, so this is a guard, not a policy.
const maxSnapshots = 10_000

func newSnapshots[T any](ttl time.Duration, now func() time.Time,
	render func(ctx context.Context, event string, now time.Time) (T, error)) *snapshots[T] {
	return &snapshots[T]{ttl: ttl, now: now, render: render, entries: map[string]*snapshot[T]{}}
}

// get returns event's rendering, at most ttl old.
func (c *snapshots[T]) get(ctx context.Context, event string) (T, error) {
	c.mu.Lock()
	e, ok := c.entries[event]
	if !ok {
		if len(c.entries) >= maxSnapshots {
			clear(c.entries)
		}
		e = &snapshot[T]{}
		c.entries[event] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	if e.ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := c.render(ctx, event, now)
	if err != nil {
		if errors.Is(err, inventory.ErrNotFound) {
			c.mu.Lock()
			delete(c.entries, event)
			c.mu.Unlock()
		}
		var zero T
		return zero, err
	}
	e.v, e.ok, e.expires = v, true, now.Add(c.ttl)
	return v, nil
}
