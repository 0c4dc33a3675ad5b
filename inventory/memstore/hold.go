package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/onsale/onsale/inventory"
)

// Hold takes units out of sale for a fan, all or nothing.
func (s *Store) Hold(_ context.Context, req inventory.HoldRequest) (inventory.Hold, error) {
	if err := req.Validate(); err != nil {
		return inventory.Hold{}, err
	}
	e, err := s.event(req.Event)
	if err != nil {
		return inventory.Hold{}, fmt.Errorf("hold: %w", err)
	}
	if e.closed.Load() {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", req.Event, inventory.ErrEventClosed)
	}
	if err := e.def.CheckHold(req); err != nil { // the definition is immutable: no lock needed
		return inventory.Hold{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Again under the lock: a Cancel that ran meanwhile has released every live hold and must not miss this one.
	if e.closed.Load() {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", req.Event, inventory.ErrEventClosed)
	}
	now := s.now()
	e.reclaim(now, lazyReclaim)

	var ik idemKey
	if req.IdempotencyKey != "" {
		ik = idemKey{fan: req.Fan, key: req.IdempotencyKey}
		if ent, ok := e.idem[ik]; ok {
			if first, ok := e.holds[ent.holdID]; ok && ent.expires.After(now) {
				if ent.fingerprint != req.Fingerprint {
					return inventory.Hold{}, fmt.Errorf("hold: key %q: %w", req.IdempotencyKey, inventory.ErrIdempotencyReused)
				}
				return view(first, now), nil
			}
			delete(e.idem, ik)
		}
	}

	units := req.Units()
	if fc := e.fans[req.Fan]; fc != nil && units+fc.held+fc.bought > e.def.MaxPerFan || units > e.def.MaxPerFan {
		return inventory.Hold{}, fmt.Errorf("hold: fan %s: %d more units: %w", req.Fan, units, inventory.ErrLimitExceeded)
	}

	h, err := e.take(req)
	if err != nil {
		return inventory.Hold{}, fmt.Errorf("hold: %w", err)
	}
	for i, l := range h.h.Lines {
		sec := e.secs[h.secs[i]]
		sec.available -= l.Quantity
		sec.held += l.Quantity
		sec.version++
	}
	h.h.Event, h.h.Fan, h.h.State, h.h.Currency = e.def.ID, req.Fan, inventory.Held, e.def.Currency
	h.h.CreatedAt, h.h.ExpiresAt, h.h.Units = now, now.Add(e.def.HoldTTL), units
	for {
		h.h.ID = inventory.NewHoldID(e.def.ID)
		if _, dup := e.holds[h.h.ID]; !dup {
			break
		}
	}
	e.holds[h.h.ID] = h
	e.track(h)
	e.fan(req.Fan).held += units
	if ik.key != "" {
		e.idem[ik] = idemEntry{holdID: h.h.ID, fingerprint: req.Fingerprint, expires: now.Add(idemTTL)}
		e.idemOrder = append(e.idemOrder, stamped[idemKey]{ik, now.Add(idemTTL)})
	}
	return cloneHold(h.h), nil
}

// take finds the units of a request and marks its seats held, or marks nothing and fails with ErrSeatsUnavailable
// or ErrSoldOut. The returned hold has its lines, seats and total; counters are the caller's to move.
func (e *event) take(req inventory.HoldRequest) (_ *hold, err error) {
	h := &hold{index: -1}
	defer func() {
		if err != nil {
			for _, ref := range h.seats {
				sec := e.secs[ref.sec]
				sec.setSeat(sec.seatIndex(ref.row, ref.n), seatFree)
			}
		}
	}()
	add := func(si, q int) {
		for i, have := range h.secs {
			if have == si {
				h.h.Lines[i].Quantity += q
				return
			}
		}
		h.secs = append(h.secs, si)
		h.h.Lines = append(h.h.Lines, inventory.Line{Section: e.secs[si].def.ID, Quantity: q, UnitPrice: e.secs[si].def.Price})
	}
	for _, id := range req.Seats {
		def, row, n, err := e.def.LocateSeat(id)
		if err != nil {
			return nil, err
		}
		si := e.secIdx[def.ID]
		sec := e.secs[si]
		i := sec.seatIndex(row, n)
		if sec.seats[i] != seatFree {
			return nil, fmt.Errorf("seat %s: %w", id, inventory.ErrSeatsUnavailable)
		}
		sec.setSeat(i, seatHeld)
		h.seats = append(h.seats, seatRef{si, row, n})
		h.h.Seats = append(h.h.Seats, id)
		add(si, 1)
	}
	for _, it := range req.Items {
		si := e.secIdx[it.Section]
		sec := e.secs[si]
		if sec.def.Kind == inventory.General {
			want := it.Quantity
			for i, have := range h.secs {
				if have == si {
					want += h.h.Lines[i].Quantity
				}
			}
			if sec.available < want {
				return nil, fmt.Errorf("section %s: %d asked, %d left: %w", it.Section, want, sec.available, inventory.ErrSoldOut)
			}
			add(si, it.Quantity)
			continue
		}
		picks, ok := inventory.SelectSeats(sec.layout(), it.Quantity, it.Adjacent)
		if !ok {
			return nil, fmt.Errorf("section %s: %d seats (adjacent %t): %w", it.Section, it.Quantity, it.Adjacent, inventory.ErrSoldOut)
		}
		for _, p := range picks {
			sec.setSeat(sec.seatIndex(p.Row, p.Seat), seatHeld)
			h.seats = append(h.seats, seatRef{si, p.Row, p.Seat})
			h.h.Seats = append(h.h.Seats, inventory.SeatID(sec.def.ID, sec.def.Rows[p.Row].Row, p.Seat))
		}
		add(si, it.Quantity)
	}
	for i := range h.h.Lines {
		l := &h.h.Lines[i]
		l.Amount = l.UnitPrice * int64(l.Quantity)
		h.h.Total += l.Amount
	}
	return h, nil
}

func (sec *section) layout() inventory.SeatLayout {
	return inventory.SeatLayout{
		Rows:      sec.def.Rows,
		Free:      func(row, n int) bool { return sec.seats[sec.rowStart[row]+n-1] == seatFree },
		FreeInRow: func(row int) int { return sec.rowFree[row] },
	}
}

// view is what callers see of a hold: a copy, reported expired once its deadline passed even if not reclaimed yet.
func view(h *hold, now time.Time) inventory.Hold {
	v := cloneHold(h.h)
	if v.State.Live() && passed(h, now) {
		v.State = inventory.Expired
	}
	return v
}

// Get returns a hold in any state.
func (s *Store) Get(_ context.Context, id string) (inventory.Hold, error) {
	e, err := s.eventOfHold(id)
	if err != nil {
		return inventory.Hold{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.holds[id]
	if !ok {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", id, inventory.ErrNotFound)
	}
	return view(h, s.now()), nil
}

func (s *Store) eventOfHold(id string) (*event, error) {
	ev, ok := inventory.EventOfHold(id)
	if !ok {
		return nil, fmt.Errorf("hold %q: %w", id, inventory.ErrNotFound)
	}
	e, err := s.event(ev)
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", id, inventory.ErrNotFound)
	}
	return e, nil
}

// change runs fn on a hold under its event's lock, after the lazy reclaim. A live hold whose deadline has passed
// is expired first (as the sweeper would), so fn sees it expired.
func (s *Store) change(id string, fn func(e *event, h *hold, now time.Time) error) (inventory.Hold, error) {
	e, err := s.eventOfHold(id)
	if err != nil {
		return inventory.Hold{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.now()
	e.reclaim(now, lazyReclaim)
	h, ok := e.holds[id]
	if !ok {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", id, inventory.ErrNotFound)
	}
	if h.h.State.Live() && passed(h, now) {
		e.free(h, inventory.Expired, now)
	}
	if err := fn(e, h, now); err != nil {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", id, err)
	}
	return cloneHold(h.h), nil
}

// Extend pushes a held hold's deadline by HoldTTL, capped at CreatedAt+MaxHoldLife.
func (s *Store) Extend(_ context.Context, id string) (inventory.Hold, error) {
	return s.change(id, func(e *event, h *hold, now time.Time) error {
		switch h.h.State {
		case inventory.Held:
			exp := now.Add(e.def.HoldTTL)
			if limit := h.h.CreatedAt.Add(e.def.MaxHoldLife); exp.After(limit) {
				exp = limit
			}
			if exp.After(h.h.ExpiresAt) {
				h.h.ExpiresAt = exp
				e.retime(h)
			}
			return nil
		case inventory.Checkout:
			return fmt.Errorf("extend in checkout: %w", inventory.ErrInvalidState)
		default:
			return fmt.Errorf("extend %s: %w", h.h.State, inventory.ErrHoldExpired)
		}
	})
}

// Release gives a live hold's units back at once; released and expired holds come back unchanged.
func (s *Store) Release(_ context.Context, id string) (inventory.Hold, error) {
	return s.change(id, func(e *event, h *hold, now time.Time) error {
		switch h.h.State {
		case inventory.Held, inventory.Checkout:
			e.free(h, inventory.Released, now)
			return nil
		case inventory.Confirmed:
			return fmt.Errorf("release confirmed: %w", inventory.ErrInvalidState)
		default:
			return nil
		}
	})
}

// BeginCheckout moves a held hold to checkout with the checkout deadline.
func (s *Store) BeginCheckout(_ context.Context, id string) (inventory.Hold, error) {
	return s.change(id, func(e *event, h *hold, now time.Time) error {
		switch h.h.State {
		case inventory.Held:
			h.h.State = inventory.Checkout
			h.h.ExpiresAt = now.Add(e.def.CheckoutTTL)
			e.retime(h)
			return nil
		case inventory.Checkout:
			return nil
		case inventory.Confirmed:
			return fmt.Errorf("checkout confirmed: %w", inventory.ErrInvalidState)
		default:
			return fmt.Errorf("checkout %s: %w", h.h.State, inventory.ErrHoldExpired)
		}
	})
}

// Confirm sells a live hold.
func (s *Store) Confirm(_ context.Context, id string) (inventory.Hold, error) {
	return s.change(id, func(e *event, h *hold, _ time.Time) error {
		switch h.h.State {
		case inventory.Held, inventory.Checkout:
			e.sell(h)
			return nil
		case inventory.Confirmed:
			return nil
		default:
			return fmt.Errorf("confirm %s: %w", h.h.State, inventory.ErrHoldExpired)
		}
	})
}

// Return puts a confirmed hold's units back on sale; released and expired holds come back unchanged.
func (s *Store) Return(_ context.Context, id string) (inventory.Hold, error) {
	return s.change(id, func(e *event, h *hold, _ time.Time) error {
		switch h.h.State {
		case inventory.Confirmed:
			e.unsell(h)
			return nil
		case inventory.Held, inventory.Checkout:
			return fmt.Errorf("return %s: %w", h.h.State, inventory.ErrInvalidState)
		default:
			return nil
		}
	})
}

// unsell undoes sell: a confirmed hold's units move from sold to available, its seats are free and its units leave
// the fan's bought count. The hold is not queued to be forgotten, as a sold one is not: Restore must keep knowing it.
func (e *event) unsell(h *hold) {
	for i, l := range h.h.Lines {
		sec := e.secs[h.secs[i]]
		sec.sold -= l.Quantity
		sec.available += l.Quantity
		sec.version++
	}
	for _, ref := range h.seats {
		sec := e.secs[ref.sec]
		sec.setSeat(sec.seatIndex(ref.row, ref.n), seatFree)
	}
	e.fan(h.h.Fan).bought -= h.h.Units
	h.h.State = inventory.Released
}

// sell moves a live hold's units from held to sold.
func (e *event) sell(h *hold) {
	e.untrack(h)
	for i, l := range h.h.Lines {
		sec := e.secs[h.secs[i]]
		sec.held -= l.Quantity
		sec.sold += l.Quantity
		sec.version++
	}
	for _, ref := range h.seats {
		sec := e.secs[ref.sec]
		sec.setSeat(sec.seatIndex(ref.row, ref.n), seatSold)
	}
	fc := e.fan(h.h.Fan)
	fc.held -= h.h.Units
	fc.bought += h.h.Units
	h.h.State = inventory.Confirmed
}
