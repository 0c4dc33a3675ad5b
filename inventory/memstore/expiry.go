package memstore

import (
	"container/heap"
	"context"
	"time"

	"github.com/onsale/onsale/inventory"
)

// deadlines is a min-heap of live holds by deadline (Hold.ExpiresAt): the truth about what has expired.
type deadlines []*hold

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].h.ExpiresAt.Before(d[j].h.ExpiresAt) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index = i
	d[j].index = j
}
func (d *deadlines) Push(x any) {
	h := x.(*hold)
	h.index = len(*d)
	*d = append(*d, h)
}
func (d *deadlines) Pop() any {
	old := *d
	h := old[len(old)-1]
	old[len(old)-1] = nil
	h.index = -1
	*d = old[:len(old)-1]
	return h
}

func (e *event) track(h *hold) { heap.Push(&e.due, h) }
func (e *event) untrack(h *hold) {
	if h.index >= 0 {
		heap.Remove(&e.due, h.index)
	}
}
func (e *event) retime(h *hold) { heap.Fix(&e.due, h.index) }

// reclaim expires up to limit holds whose deadline is not after now and returns how many.
func (e *event) reclaim(now time.Time, limit int) int {
	e.forget(now)
	n := 0
	for n < limit && len(e.due) > 0 && !e.due[0].h.ExpiresAt.After(now) {
		e.free(e.due[0], inventory.Expired, now)
		n++
	}
	return n
}

// free ends a live hold (released or expired): its units go back to available and leave the fan's held count.
func (e *event) free(h *hold, state inventory.State, now time.Time) {
	e.untrack(h)
	for i, l := range h.h.Lines {
		sec := e.secs[h.secs[i]]
		sec.held -= l.Quantity
		sec.available += l.Quantity
		sec.version++
	}
	for _, ref := range h.seats {
		sec := e.secs[ref.sec]
		sec.setSeat(sec.seatIndex(ref.row, ref.n), seatFree)
	}
	e.fan(h.h.Fan).held -= h.h.Units
	h.h.State = state
	e.ended = append(e.ended, stamped[string]{h.h.ID, now})
}

// forget drops released and expired holds that ended more than retention ago, and expired idempotency keys. A
// returned hold is never queued in ended: like a sold one, it stays.
func (e *event) forget(now time.Time) {
	for len(e.ended) > 0 && now.Sub(e.ended[0].at) >= retention {
		if h, ok := e.holds[e.ended[0].v]; ok && !h.h.State.Live() && h.h.State != inventory.Confirmed {
			delete(e.holds, e.ended[0].v)
		}
		e.ended = e.ended[1:]
	}
	for len(e.idemOrder) > 0 && !e.idemOrder[0].at.After(now) {
		k := e.idemOrder[0]
		if ent, ok := e.idem[k.v]; ok && ent.expires.Equal(k.at) {
			delete(e.idem, k.v)
		}
		e.idemOrder = e.idemOrder[1:]
	}
}

// passed reports whether a live hold's deadline is not after now.
func passed(h *hold, now time.Time) bool { return !h.h.ExpiresAt.After(now) }

// Sweep expires up to limit holds of an event whose deadline has passed.
func (s *Store) Sweep(_ context.Context, event string, limit int) (int, error) {
	e, err := s.event(event)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reclaim(s.now(), limit), nil
}

func (e *event) fan(id string) *fanCount {
	fc, ok := e.fans[id]
	if !ok {
		fc = &fanCount{}
		e.fans[id] = fc
	}
	return fc
}
