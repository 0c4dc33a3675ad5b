package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/onsale/onsale/inventory"
)

// Audit recomputes every counter from the holds and the seat states and lists each difference.
func (s *Store) Audit(_ context.Context, event string) (inventory.AuditReport, error) {
	e, err := s.event(event)
	if err != nil {
		return inventory.AuditReport{}, fmt.Errorf("audit: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rep := inventory.AuditReport{Event: event, Differences: []string{}}
	diff := func(format string, args ...any) {
		rep.Differences = append(rep.Differences, fmt.Sprintf(format, args...))
	}

	held := make([]int, len(e.secs))
	sold := make([]int, len(e.secs))
	owner := make([]map[int]string, len(e.secs)) // seat index → hold
	fans := make(map[string]fanCount)
	ids := make([]string, 0, len(e.holds))
	for id := range e.holds {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic report
	for _, id := range ids {
		h := e.holds[id]
		live, confirmed := h.h.State.Live(), h.h.State == inventory.Confirmed
		if live != (h.index >= 0) {
			diff("hold %s (%s): in the deadline index %t", id, h.h.State, h.index >= 0)
		}
		if !live && !confirmed {
			continue
		}
		rep.Holds++
		units := 0
		for i, l := range h.h.Lines {
			if live {
				held[h.secs[i]] += l.Quantity
			} else {
				sold[h.secs[i]] += l.Quantity
			}
			units += l.Quantity
		}
		if units != h.h.Units {
			diff("hold %s: units %d, lines sum to %d", id, h.h.Units, units)
		}
		fc := fans[h.h.Fan]
		want := seatSold
		if live {
			fc.held += units
			want = seatHeld
		} else {
			fc.bought += units
		}
		fans[h.h.Fan] = fc
		for _, ref := range h.seats {
			sec := e.secs[ref.sec]
			i := sec.seatIndex(ref.row, ref.n)
			seat := inventory.SeatID(sec.def.ID, sec.def.Rows[ref.row].Row, ref.n)
			if owner[ref.sec] == nil {
				owner[ref.sec] = make(map[int]string)
			}
			if other, dup := owner[ref.sec][i]; dup {
				diff("seat %s: in holds %s and %s", seat, other, id)
			}
			owner[ref.sec][i] = id
			if sec.seats[i] != want {
				diff("seat %s of hold %s (%s): state %s", seat, id, h.h.State, stateName(sec.seats[i]))
			}
		}
	}
	for i, sec := range e.secs {
		id := sec.def.ID
		if sec.available+sec.held+sec.sold+sec.withheld != sec.def.Capacity {
			diff("section %s: available %d + held %d + sold %d + withheld %d != capacity %d",
				id, sec.available, sec.held, sec.sold, sec.withheld, sec.def.Capacity)
		}
		if sec.held != held[i] {
			diff("section %s: held %d, holds say %d", id, sec.held, held[i])
		}
		if sec.sold != sold[i] {
			diff("section %s: sold %d, holds say %d", id, sec.sold, sold[i])
		}
		if sec.available < 0 || sec.withheld < 0 {
			diff("section %s: negative counter (available %d, withheld %d)", id, sec.available, sec.withheld)
		}
		if sec.seats == nil {
			continue
		}
		var n [4]int
		for j, st := range sec.seats {
			n[st]++
			if (st == seatWithheld) != (j >= len(sec.seats)-sec.withheld) {
				diff("section %s: seat index %d is %s, the withheld seats are the last %d", id, j, stateName(st), sec.withheld)
			}
		}
		if n[seatFree] != sec.available || n[seatHeld] != sec.held || n[seatSold] != sec.sold || n[seatWithheld] != sec.withheld {
			diff("section %s: seats free/held/sold/withheld %d/%d/%d/%d, counters %d/%d/%d/%d", id,
				n[seatFree], n[seatHeld], n[seatSold], n[seatWithheld], sec.available, sec.held, sec.sold, sec.withheld)
		}
		for r := range sec.def.Rows {
			free := 0
			for _, st := range sec.seats[sec.rowStart[r] : sec.rowStart[r]+sec.def.Rows[r].Seats] {
				if st == seatFree {
					free++
				}
			}
			if free != sec.rowFree[r] {
				diff("section %s row %s: %d free seats, count says %d", id, sec.def.Rows[r].Row, free, sec.rowFree[r])
			}
		}
	}
	for fan, fc := range e.fans {
		if want := fans[fan]; *fc != want {
			diff("fan %s: held %d bought %d, holds say %d and %d", fan, fc.held, fc.bought, want.held, want.bought)
		}
		delete(fans, fan)
	}
	for fan, want := range fans {
		diff("fan %s: no counts, holds say held %d bought %d", fan, want.held, want.bought)
	}
	return rep, nil
}

func stateName(st byte) string {
	switch st {
	case seatFree:
		return "free"
	case seatHeld:
		return "held"
	case seatSold:
		return "sold"
	case seatWithheld:
		return "withheld"
	}
	return fmt.Sprintf("state(%d)", st)
}
