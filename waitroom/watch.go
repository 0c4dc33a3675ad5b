package waitroom

import (
	"context"
	"time"
)

// subscriber is one Watch: the broadcaster of its event computes its status on every change and sends it when it
// differs from the last one sent.
type subscriber struct {
	ctx    context.Context
	tok    queueToken
	ch     chan Status
	last   Status
	closed bool
}

// Watch sends the fan's status now and on every change, and closes the channel after a terminal status (admitted,
// closed, sold out) or when ctx ends. Each event has one broadcaster goroutine per process, whatever the number
// of watchers; a slow reader only ever misses intermediate statuses (the channel holds the latest one).
func (r *Room) Watch(ctx context.Context, event, queueToken string) (<-chan Status, error) {
	now := r.now()
	t, err := r.sig.parseQueue(queueToken, event, now)
	if err != nil {
		return nil, ErrBadToken
	}
	ev, snap, err := r.snapshot(ctx, event)
	if err != nil {
		return nil, err
	}
	st, err := r.status(ctx, snap, t, now)
	if err != nil {
		return nil, err
	}
	s := &subscriber{ctx: ctx, tok: t, ch: make(chan Status, 1), last: st}
	s.ch <- st
	if terminal(st.State) || ctx.Err() != nil {
		close(s.ch)
		return s.ch, nil
	}
	if st.QueueToken != "" {
		s.tok = refreshed(r, st.QueueToken, event, now, t)
	}
	ev.watchMu.Lock()
	if ev.subs == nil {
		ev.subs = map[*subscriber]struct{}{}
	}
	ev.subs[s] = struct{}{}
	if !ev.running {
		ev.running = true
		go r.broadcast(ev)
	}
	ev.watchMu.Unlock()
	if ev.snap.Load() != snap {
		// The snapshot changed while this watcher was being set up: the broadcaster may have passed over it.
		select {
		case ev.wake <- struct{}{}:
		default:
		}
	}
	context.AfterFunc(ctx, func() {
		ev.watchMu.Lock()
		ev.drop(s)
		ev.watchMu.Unlock()
		select { // let the broadcaster notice when it has no watchers left
		case ev.wake <- struct{}{}:
		default:
		}
	})
	return s.ch, nil
}

func refreshed(r *Room, tok, event string, now time.Time, old queueToken) queueToken {
	if t, err := r.sig.parseQueue(tok, event, now); err == nil {
		return t
	}
	return old
}

func terminal(s State) bool { return s == Admitted || s == Closed || s == SoldOut }

// drop closes and forgets s; ev.watchMu is held.
func (ev *eventState) drop(s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	delete(ev.subs, s)
}

// broadcast runs while the event has watchers: on each snapshot change it recomputes every watcher's status.
func (r *Room) broadcast(ev *eventState) {
	// A periodic pass as well, so estimated waits move even while the serving counter stands still.
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ev.wake:
		case <-t.C:
		}
		ev.watchMu.Lock()
		if len(ev.subs) == 0 {
			ev.running = false
			ev.watchMu.Unlock()
			return
		}
		subs := make([]*subscriber, 0, len(ev.subs))
		for s := range ev.subs {
			subs = append(subs, s)
		}
		ev.watchMu.Unlock()
		snap := ev.snap.Load()
		now := r.now()
		for _, s := range subs {
			if s.ctx.Err() != nil {
				continue
			}
			st, err := r.status(s.ctx, snap, s.tok, now)
			if err != nil {
				continue // a store error on claim: the next change retries
			}
			if st.QueueToken != "" {
				s.tok = refreshed(r, st.QueueToken, ev.name, now, s.tok)
			}
			if sameStatus(st, s.last) {
				continue
			}
			s.last = st
			ev.watchMu.Lock()
			if !s.closed {
				select {
				case <-s.ch: // replace an unread status with the newer one
				default:
				}
				s.ch <- st
				if terminal(st.State) {
					ev.drop(s)
				}
			}
			ev.watchMu.Unlock()
		}
		ev.watchMu.Lock()
		if len(ev.subs) == 0 { // the last watchers ended in this pass
			ev.running = false
			ev.watchMu.Unlock()
			return
		}
		ev.watchMu.Unlock()
	}
}

func sameStatus(a, b Status) bool {
	return a.State == b.State && a.Position == b.Position && a.Ahead == b.Ahead && a.EstimatedWait == b.EstimatedWait &&
		a.AccessToken == b.AccessToken && a.Remaining == b.Remaining && a.RemainingHeld == b.RemainingHeld
}
