package inventory

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Limits of an event definition and of a hold request.
const (
	MaxSections        = 200
	MaxRowsPerSection  = 1000
	MaxSeatsPerRow     = 2000
	MaxGeneralCapacity = 10_000_000
	MaxHoldTTL         = time.Hour
	MaxUnitsPerHold    = 100
	MaxSectionName     = 64
	// DefaultCheckoutTTL is how long a hold may stay in checkout when the event does not say.
	DefaultCheckoutTTL = 15 * time.Minute
)

// Validate checks an event definition and fills its defaults: MaxHoldLife = 2×HoldTTL, CheckoutTTL = 15 min, a
// seated section's Capacity = the sum of its rows. Anything wrong fails with ErrInvalid and the reason.
func (ev *Event) Validate() error {
	if !ValidEventID(ev.ID) {
		return fmt.Errorf("%w: event id %q", ErrInvalid, ev.ID)
	}
	if !validCurrency(ev.Currency) {
		return fmt.Errorf("%w: currency %q: want 3 uppercase letters", ErrInvalid, ev.Currency)
	}
	if ev.HoldTTL <= 0 || ev.HoldTTL > MaxHoldTTL {
		return fmt.Errorf("%w: hold ttl %s: want more than 0 and at most %s", ErrInvalid, ev.HoldTTL, MaxHoldTTL)
	}
	if ev.MaxPerFan < 1 {
		return fmt.Errorf("%w: max per fan %d: want at least 1", ErrInvalid, ev.MaxPerFan)
	}
	if ev.MaxHoldLife == 0 {
		ev.MaxHoldLife = 2 * ev.HoldTTL
	}
	if ev.MaxHoldLife < ev.HoldTTL {
		// A shorter cap would make a fresh hold outlive its own cap.
		return fmt.Errorf("%w: max hold life %s is shorter than the hold ttl %s", ErrInvalid, ev.MaxHoldLife, ev.HoldTTL)
	}
	if ev.CheckoutTTL == 0 {
		ev.CheckoutTTL = DefaultCheckoutTTL
	}
	if ev.CheckoutTTL < 0 {
		return fmt.Errorf("%w: checkout ttl %s", ErrInvalid, ev.CheckoutTTL)
	}
	if len(ev.Sections) == 0 {
		return fmt.Errorf("%w: an event needs at least one section", ErrInvalid)
	}
	if len(ev.Sections) > MaxSections {
		return fmt.Errorf("%w: %d sections: at most %d", ErrInvalid, len(ev.Sections), MaxSections)
	}
	seen := make(map[string]int, len(ev.Sections))
	for i := range ev.Sections {
		sec := &ev.Sections[i]
		if err := sec.validate(); err != nil {
			return err
		}
		if _, dup := seen[sec.ID]; dup {
			return fmt.Errorf("%w: section %q defined twice", ErrInvalid, sec.ID)
		}
		seen[sec.ID] = i
	}
	for id, n := range ev.Withheld {
		i, ok := seen[id]
		if !ok {
			return fmt.Errorf("%w: withheld: unknown section %q", ErrInvalid, id)
		}
		if n < 0 || n > ev.Sections[i].Capacity {
			return fmt.Errorf("%w: withheld %d of section %q: want 0..%d", ErrInvalid, n, id, ev.Sections[i].Capacity)
		}
	}
	// Sections without geometry are stacked apart, so only placed ones can overlap.
	if slices.ContainsFunc(ev.Sections, func(s Section) bool { return s.Kind == Seated && s.HasGeometry() }) {
		if err := checkOverlaps(ev.Layout()); err != nil {
			return err
		}
	}
	return nil
}

func (sec *Section) validate() error {
	if !ValidSectionID(sec.ID) {
		return fmt.Errorf("%w: section id %q", ErrInvalid, sec.ID)
	}
	if len(sec.Name) > MaxSectionName || !utf8.ValidString(sec.Name) {
		return fmt.Errorf("%w: section %q: name: want up to %d bytes of UTF-8", ErrInvalid, sec.ID, MaxSectionName)
	}
	if sec.Price < 0 {
		return fmt.Errorf("%w: section %q: price %d below 0", ErrInvalid, sec.ID, sec.Price)
	}
	switch sec.Kind {
	case General:
		if len(sec.Rows) > 0 {
			return fmt.Errorf("%w: section %q: a general section has no rows", ErrInvalid, sec.ID)
		}
		if sec.Capacity < 1 || sec.Capacity > MaxGeneralCapacity {
			return fmt.Errorf("%w: section %q: capacity %d: want 1..%d", ErrInvalid, sec.ID, sec.Capacity, MaxGeneralCapacity)
		}
	case Seated:
		if len(sec.Rows) == 0 {
			return fmt.Errorf("%w: section %q: a seated section needs rows", ErrInvalid, sec.ID)
		}
		if len(sec.Rows) > MaxRowsPerSection {
			return fmt.Errorf("%w: section %q: %d rows: at most %d", ErrInvalid, sec.ID, len(sec.Rows), MaxRowsPerSection)
		}
		labels := make(map[string]struct{}, len(sec.Rows))
		total := 0
		for _, r := range sec.Rows {
			if !ValidRowLabel(r.Row) {
				return fmt.Errorf("%w: section %q: row label %q", ErrInvalid, sec.ID, r.Row)
			}
			if _, dup := labels[r.Row]; dup {
				return fmt.Errorf("%w: section %q: row %q defined twice", ErrInvalid, sec.ID, r.Row)
			}
			labels[r.Row] = struct{}{}
			if r.Seats < 1 || r.Seats > MaxSeatsPerRow {
				return fmt.Errorf("%w: section %q row %q: %d seats: want 1..%d", ErrInvalid, sec.ID, r.Row, r.Seats, MaxSeatsPerRow)
			}
			if err := r.validateGeometry(sec.ID); err != nil {
				return err
			}
			total += r.Seats
		}
		sec.Capacity = total
	default:
		return fmt.Errorf("%w: section %q: kind %q: want general or seated", ErrInvalid, sec.ID, sec.Kind)
	}
	return nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Section returns the section with the given id.
func (ev *Event) Section(id string) (*Section, bool) {
	for i := range ev.Sections {
		if ev.Sections[i].ID == id {
			return &ev.Sections[i], true
		}
	}
	return nil, false
}

// RowIndex returns the index of a row label in a seated section.
func (sec *Section) RowIndex(label string) (int, bool) {
	for i, r := range sec.Rows {
		if r.Row == label {
			return i, true
		}
	}
	return 0, false
}
