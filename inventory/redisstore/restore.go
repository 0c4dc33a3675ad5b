package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onsale/onsale/inventory"
)

// Restore re-applies the confirmed and in-checkout holds the store does not know, all in one script; holds it
// knows and holds in other states are left alone, so running it twice changes nothing the second time.
func (s *Store) Restore(ctx context.Context, event string, holds []inventory.Hold) (int, error) {
	ev, err := s.Event(ctx, event)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	var args []any
	for _, h := range holds {
		if h.State != inventory.Confirmed && h.State != inventory.Checkout {
			continue
		}
		if e, ok := inventory.EventOfHold(h.ID); !ok || e != event {
			return 0, fmt.Errorf("restore %s: %w: hold %q is not of this event", event, inventory.ErrInvalid, h.ID)
		}
		alloc, err := allocOf(&ev, h)
		if err != nil {
			return 0, fmt.Errorf("restore %s: hold %s: %w", event, h.ID, err)
		}
		var lines strings.Builder
		units := 0
		for i, l := range h.Lines {
			if i > 0 {
				lines.WriteByte(';')
			}
			lines.WriteString(l.Section + ":" + strconv.Itoa(l.Quantity) + ":" + strconv.FormatInt(l.UnitPrice, 10))
			units += l.Quantity
		}
		args = append(args, h.ID, string(h.State), h.Fan, lines.String(), strings.Join(h.Seats, " "), h.Total,
			h.Currency, h.CreatedAt.UnixMilli(), h.ExpiresAt.UnixMilli(), units, alloc)
	}
	keys := s.base(event, 1)
	keys = append(keys, keys[0]+"confirmed")
	v, err := s.run(ctx, s.sc.restore, keys, args...)
	if err != nil {
		return 0, fmt.Errorf("restore %s: %w", event, err)
	}
	n, err := toInt(v)
	if err != nil {
		return 0, fmt.Errorf("restore %s: %w", event, err)
	}
	return int(n), nil
}

// allocOf is the stored allocation of a hold: per section its units and seat positions ("sec|n|p,p;…").
func allocOf(ev *inventory.Event, h inventory.Hold) (string, error) {
	pos := map[string][]string{}
	for _, id := range h.Seats {
		sec, row, n, err := ev.LocateSeat(id)
		if err != nil {
			return "", err
		}
		off := 0
		for _, r := range sec.Rows[:row] {
			off += r.Seats
		}
		pos[sec.ID] = append(pos[sec.ID], strconv.Itoa(off+n-1))
	}
	for sec := range pos {
		if !slices.ContainsFunc(h.Lines, func(l inventory.Line) bool { return l.Section == sec }) {
			return "", fmt.Errorf("%w: seats of section %s but no line for it", inventory.ErrInvalid, sec)
		}
	}
	var b strings.Builder
	for i, l := range h.Lines {
		sec, ok := ev.Section(l.Section)
		if !ok {
			return "", fmt.Errorf("%w: unknown section %q", inventory.ErrInvalid, l.Section)
		}
		if l.Quantity <= 0 {
			return "", fmt.Errorf("%w: section %s: quantity %d", inventory.ErrInvalid, l.Section, l.Quantity)
		}
		if sec.Kind == inventory.Seated && len(pos[sec.ID]) != l.Quantity {
			return "", fmt.Errorf("%w: section %s: %d units but %d seats", inventory.ErrInvalid, l.Section, l.Quantity, len(pos[sec.ID]))
		}
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(l.Section + "|" + strconv.Itoa(l.Quantity) + "|" + strings.Join(pos[sec.ID], ","))
	}
	return b.String(), nil
}
