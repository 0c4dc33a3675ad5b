package inventory

import "fmt"

// Validate checks what a hold request can be checked for without its event: a fan, something asked for, positive
// quantities, seat ids that parse, no seat twice, at most MaxUnitsPerHold units. It fails with ErrInvalid.
func (req HoldRequest) Validate() error {
	if req.Fan == "" {
		return fmt.Errorf("%w: hold: no fan", ErrInvalid)
	}
	if len(req.Items) == 0 && len(req.Seats) == 0 {
		return fmt.Errorf("%w: hold: no items and no seats", ErrInvalid)
	}
	if len(req.Items) > MaxUnitsPerHold || len(req.Seats) > MaxUnitsPerHold {
		return fmt.Errorf("%w: hold: more than %d units", ErrInvalid, MaxUnitsPerHold)
	}
	units := len(req.Seats)
	for _, it := range req.Items {
		if it.Quantity <= 0 {
			return fmt.Errorf("%w: hold: section %q: quantity %d", ErrInvalid, it.Section, it.Quantity)
		}
		if it.Quantity > MaxUnitsPerHold {
			return fmt.Errorf("%w: hold: more than %d units", ErrInvalid, MaxUnitsPerHold)
		}
		units += it.Quantity
	}
	if units > MaxUnitsPerHold {
		return fmt.Errorf("%w: hold: %d units: at most %d", ErrInvalid, units, MaxUnitsPerHold)
	}
	seen := make(map[string]struct{}, len(req.Seats))
	for _, s := range req.Seats {
		if _, _, _, err := ParseSeatID(s); err != nil {
			return fmt.Errorf("hold: %w", err)
		}
		if _, dup := seen[s]; dup {
			return fmt.Errorf("%w: hold: seat %q asked for twice", ErrInvalid, s)
		}
		seen[s] = struct{}{}
	}
	return nil
}

// Units is the number of units a request asks for.
func (req HoldRequest) Units() int {
	n := len(req.Seats)
	for _, it := range req.Items {
		n += it.Quantity
	}
	return n
}

// CheckHold checks a hold request against the event: req.Validate, then every section known, adjacent only on
// seated sections, every named seat an existing seat of a seated section. It fails with ErrInvalid.
func (ev *Event) CheckHold(req HoldRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	for _, it := range req.Items {
		sec, ok := ev.Section(it.Section)
		if !ok {
			return fmt.Errorf("%w: hold: unknown section %q", ErrInvalid, it.Section)
		}
		if it.Adjacent && sec.Kind != Seated {
			return fmt.Errorf("%w: hold: adjacent asked of general section %q", ErrInvalid, it.Section)
		}
	}
	for _, s := range req.Seats {
		if _, _, _, err := ev.LocateSeat(s); err != nil {
			return fmt.Errorf("hold: %w", err)
		}
	}
	return nil
}

// LocateSeat resolves a seat id to its seated section, row index (0-based) and seat number (1-based), or fails
// with ErrInvalid when it does not parse or names no seat of the event.
func (ev *Event) LocateSeat(id string) (sec *Section, row, n int, err error) {
	secID, label, n, err := ParseSeatID(id)
	if err != nil {
		return nil, 0, 0, err
	}
	sec, ok := ev.Section(secID)
	if !ok || sec.Kind != Seated {
		return nil, 0, 0, fmt.Errorf("%w: seat %q: no seated section %q", ErrInvalid, id, secID)
	}
	row, ok = sec.RowIndex(label)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: seat %q: no row %q in section %q", ErrInvalid, id, label, secID)
	}
	if n > sec.Rows[row].Seats {
		return nil, 0, 0, fmt.Errorf("%w: seat %q: row %q has %d seats", ErrInvalid, id, label, sec.Rows[row].Seats)
	}
	return sec, row, n, nil
}
