package memstore

import (
	"context"
	"fmt"

	"github.com/onsale/onsale/inventory"
)

// Restore re-applies the confirmed and in-checkout holds the store does not know, all or nothing. A hold whose
// units are no longer available fails the whole call with ErrSoldOut or ErrSeatsUnavailable and changes nothing.
func (s *Store) Restore(_ context.Context, event string, holds []inventory.Hold) (int, error) {
	e, err := s.event(event)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.now()
	e.reclaim(now, lazyReclaim)

	var plan []*hold
	need := make([]int, len(e.secs)) // general units taken so far by the plan
	rollback := func() {
		for _, h := range plan {
			for _, ref := range h.seats {
				sec := e.secs[ref.sec]
				sec.setSeat(sec.seatIndex(ref.row, ref.n), seatFree)
			}
		}
	}
	seen := make(map[string]bool)
	for _, in := range holds {
		if in.State != inventory.Checkout && in.State != inventory.Confirmed {
			continue
		}
		if _, known := e.holds[in.ID]; known || seen[in.ID] {
			continue
		}
		h, err := e.restorable(in)
		if err == nil {
			err = e.reserve(h, need)
		}
		if err != nil {
			rollback()
			return 0, fmt.Errorf("restore hold %s: %w", in.ID, err)
		}
		seen[in.ID] = true
		plan = append(plan, h)
	}
	for _, h := range plan {
		confirmed := h.h.State == inventory.Confirmed
		for i, l := range h.h.Lines {
			sec := e.secs[h.secs[i]]
			sec.available -= l.Quantity
			if confirmed {
				sec.sold += l.Quantity
			} else {
				sec.held += l.Quantity
			}
			sec.version++
		}
		fc := e.fan(h.h.Fan)
		if confirmed {
			fc.bought += h.h.Units
		} else {
			fc.held += h.h.Units
			if h.h.ExpiresAt.IsZero() {
				h.h.ExpiresAt = now.Add(e.def.CheckoutTTL)
			}
			e.track(h)
		}
		e.holds[h.h.ID] = h
	}
	return len(plan), nil
}

// restorable checks a hold from outside against the event and returns it in the store's form.
func (e *event) restorable(in inventory.Hold) (*hold, error) {
	if ev, ok := inventory.EventOfHold(in.ID); !ok || ev != e.def.ID || in.Event != e.def.ID {
		return nil, fmt.Errorf("%w: not a hold of event %s", inventory.ErrInvalid, e.def.ID)
	}
	if in.Fan == "" {
		return nil, fmt.Errorf("%w: no fan", inventory.ErrInvalid)
	}
	h := &hold{h: cloneHold(in), index: -1}
	units := 0
	perSec := make(map[int]int)
	for _, l := range in.Lines {
		si, ok := e.secIdx[l.Section]
		if !ok || l.Quantity <= 0 {
			return nil, fmt.Errorf("%w: line %+v", inventory.ErrInvalid, l)
		}
		if _, dup := perSec[si]; dup {
			return nil, fmt.Errorf("%w: section %s on two lines", inventory.ErrInvalid, l.Section)
		}
		perSec[si] = l.Quantity
		h.secs = append(h.secs, si)
		units += l.Quantity
	}
	if units != in.Units {
		return nil, fmt.Errorf("%w: units %d, lines sum to %d", inventory.ErrInvalid, in.Units, units)
	}
	seats := make(map[int]int)
	for _, id := range in.Seats {
		def, row, n, err := e.def.LocateSeat(id)
		if err != nil {
			return nil, err
		}
		si := e.secIdx[def.ID]
		seats[si]++
		h.seats = append(h.seats, seatRef{si, row, n})
	}
	for si, q := range perSec {
		if e.secs[si].def.Kind == inventory.Seated && seats[si] != q {
			return nil, fmt.Errorf("%w: section %s: %d seats for %d units", inventory.ErrInvalid, e.secs[si].def.ID, seats[si], q)
		}
	}
	for si := range seats {
		if _, ok := perSec[si]; !ok {
			return nil, fmt.Errorf("%w: seats of section %s without a line", inventory.ErrInvalid, e.secs[si].def.ID)
		}
	}
	return h, nil
}

// reserve marks a planned hold's seats and counts its general units against available; on failure it leaves the
// seats it marked for this hold free again.
func (e *event) reserve(h *hold, need []int) error {
	state := seatHeld
	if h.h.State == inventory.Confirmed {
		state = seatSold
	}
	for k, ref := range h.seats {
		sec := e.secs[ref.sec]
		i := sec.seatIndex(ref.row, ref.n)
		if sec.seats[i] != seatFree {
			for _, done := range h.seats[:k] {
				sec := e.secs[done.sec]
				sec.setSeat(sec.seatIndex(done.row, done.n), seatFree)
			}
			return fmt.Errorf("seat %s-%s-%d: %w", sec.def.ID, sec.def.Rows[ref.row].Row, ref.n, inventory.ErrSeatsUnavailable)
		}
		sec.setSeat(i, state)
	}
	for i, l := range h.h.Lines {
		si := h.secs[i]
		if e.secs[si].def.Kind != inventory.General {
			continue
		}
		if need[si]+l.Quantity > e.secs[si].available {
			for _, done := range h.seats {
				sec := e.secs[done.sec]
				sec.setSeat(sec.seatIndex(done.row, done.n), seatFree)
			}
			return fmt.Errorf("section %s: %w", l.Section, inventory.ErrSoldOut)
		}
	}
	for i, l := range h.h.Lines {
		if e.secs[h.secs[i]].def.Kind == inventory.General {
			need[h.secs[i]] += l.Quantity
		}
	}
	return nil
}
