package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onsale/onsale/inventory"
)

// Audit recomputes every section's counters from the live and confirmed holds and the seat states, on one snapshot
// taken by a script, and lists each difference.
func (s *Store) Audit(ctx context.Context, event string) (inventory.AuditReport, error) {
	if !inventory.ValidEventID(event) {
		return inventory.AuditReport{}, fmt.Errorf("audit %q: %w", event, inventory.ErrNotFound)
	}
	keys := s.base(event, 1)
	keys = append(keys, keys[0]+"confirmed")
	v, err := s.run(ctx, s.sc.audit, keys)
	if err != nil {
		return inventory.AuditReport{}, fmt.Errorf("audit %s: %w", event, err)
	}
	snap, err := decodeSnapshot(v)
	if err != nil {
		return inventory.AuditReport{}, fmt.Errorf("audit %s: %w", event, err)
	}
	rep := snap.compare()
	rep.Event = event
	return rep, nil
}

type auditSection struct {
	id                         string
	cap, avail, held, sold, wh int64
	seated                     bool
	seats                      string
	heldSum, soldSum           int64
	owner                      map[int64]string // seat position → hold
}

type auditHold struct {
	id, st, alloc, fan, member string
	units                      int64
}

type auditFan struct {
	fan          string
	held, bought int64
}

type snapshot struct {
	secs  []*auditSection
	holds []auditHold
	fans  []auditFan
}

func decodeSnapshot(v any) (*snapshot, error) {
	top, ok := v.([]any)
	if !ok || len(top) != 3 {
		return nil, fmt.Errorf("audit reply %T: want 3 lists", v)
	}
	var snap snapshot
	var err error
	num := func(x any) int64 {
		n, e := toInt(x)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	rows := func(x any) [][]any {
		l, _ := x.([]any)
		out := make([][]any, 0, len(l))
		for _, r := range l {
			if rr, ok := r.([]any); ok {
				out = append(out, rr)
			}
		}
		return out
	}
	for _, r := range rows(top[0]) {
		if len(r) < 6 {
			return nil, fmt.Errorf("audit reply: short section %v", r)
		}
		sec := &auditSection{id: toStr(r[0]), cap: num(r[1]), avail: num(r[2]), held: num(r[3]), sold: num(r[4]),
			wh: num(r[5]), owner: map[int64]string{}}
		if len(r) > 7 && toStr(r[6]) == string(inventory.Seated) {
			sec.seated, sec.seats = true, toStr(r[7])
		}
		snap.secs = append(snap.secs, sec)
	}
	for _, r := range rows(top[1]) {
		if len(r) < 6 {
			return nil, fmt.Errorf("audit reply: short hold %v", r)
		}
		snap.holds = append(snap.holds, auditHold{id: toStr(r[0]), st: toStr(r[1]), units: num(r[2]),
			alloc: toStr(r[3]), fan: toStr(r[4]), member: toStr(r[5])})
	}
	for _, r := range rows(top[2]) {
		if len(r) < 3 {
			return nil, fmt.Errorf("audit reply: short fan %v", r)
		}
		snap.fans = append(snap.fans, auditFan{fan: toStr(r[0]), held: num(r[1]), bought: num(r[2])})
	}
	return &snap, err
}

// compare is the audit proper: what the counters say against what the holds and seats say.
func (snap *snapshot) compare() inventory.AuditReport {
	var rep inventory.AuditReport
	diff := func(format string, a ...any) { rep.Differences = append(rep.Differences, fmt.Sprintf(format, a...)) }
	byID := make(map[string]*auditSection, len(snap.secs))
	for _, sec := range snap.secs {
		byID[sec.id] = sec
	}
	fanHeld, fanBought := map[string]int64{}, map[string]int64{}
	seen := map[string]bool{}
	for _, h := range snap.holds {
		if seen[h.id] {
			diff("hold %s is both live and confirmed", h.id)
			continue
		}
		seen[h.id] = true
		rep.Holds++
		live := h.st == string(inventory.Held) || h.st == string(inventory.Checkout)
		switch {
		case h.st == "":
			diff("hold %s is indexed (%s) but does not exist", h.id, h.member)
			continue
		case h.member == "deadline" && !live:
			diff("hold %s is in the deadline index in state %s", h.id, h.st)
			continue
		case h.member == "confirmed" && h.st != string(inventory.Confirmed):
			diff("hold %s is in the confirmed set in state %s", h.id, h.st)
			continue
		}
		want := byte('s')
		if live {
			want = 'h'
			fanHeld[h.fan] += h.units
		} else {
			fanBought[h.fan] += h.units
		}
		var units int64
		for part := range strings.SplitSeq(h.alloc, ";") {
			if part == "" {
				continue
			}
			f := strings.SplitN(part, "|", 3)
			if len(f) != 3 {
				diff("hold %s: malformed allocation %q", h.id, part)
				continue
			}
			sec, ok := byID[f[0]]
			if !ok {
				diff("hold %s holds units of unknown section %s", h.id, f[0])
				continue
			}
			n, _ := strconv.ParseInt(f[1], 10, 64)
			units += n
			if live {
				sec.heldSum += n
			} else {
				sec.soldSum += n
			}
			for p := range strings.SplitSeq(f[2], ",") {
				if p == "" {
					continue
				}
				pos, err := strconv.ParseInt(p, 10, 64)
				if err != nil || pos < 0 || pos >= int64(len(sec.seats)) {
					diff("hold %s: seat position %q outside section %s", h.id, p, sec.id)
					continue
				}
				if other, dup := sec.owner[pos]; dup {
					diff("section %s seat position %d is in holds %s and %s", sec.id, pos, other, h.id)
				}
				sec.owner[pos] = h.id
				if c := sec.seats[pos]; c != want {
					diff("section %s seat position %d of hold %s (%s) is marked %q", sec.id, pos, h.id, h.st, c)
				}
			}
		}
		if units != h.units {
			diff("hold %s: %d units allocated, %d recorded", h.id, units, h.units)
		}
	}
	for _, sec := range snap.secs {
		if sec.avail < 0 || sec.held < 0 || sec.sold < 0 || sec.wh < 0 {
			diff("section %s has a negative counter: available %d held %d sold %d withheld %d", sec.id, sec.avail, sec.held, sec.sold, sec.wh)
		}
		if sec.avail+sec.held+sec.sold+sec.wh != sec.cap {
			diff("section %s: available %d + held %d + sold %d + withheld %d != capacity %d", sec.id, sec.avail, sec.held, sec.sold, sec.wh, sec.cap)
		}
		if sec.held != sec.heldSum {
			diff("section %s: held counter %d, live holds hold %d", sec.id, sec.held, sec.heldSum)
		}
		if sec.sold != sec.soldSum {
			diff("section %s: sold counter %d, confirmed holds hold %d", sec.id, sec.sold, sec.soldSum)
		}
		if !sec.seated {
			continue
		}
		if int64(len(sec.seats)) != sec.cap {
			diff("section %s: %d seat states for capacity %d", sec.id, len(sec.seats), sec.cap)
		}
		counts := map[byte]int64{}
		for i := 0; i < len(sec.seats); i++ {
			counts[sec.seats[i]]++
		}
		for _, c := range []struct {
			state   byte
			name    string
			counter int64
		}{{'0', "free", sec.avail}, {'h', "held", sec.held}, {'s', "sold", sec.sold}, {'w', "withheld", sec.wh}} {
			if counts[c.state] != c.counter {
				diff("section %s: %d seats %s, counter says %d", sec.id, counts[c.state], c.name, c.counter)
			}
		}
		if other := int64(len(sec.seats)) - counts['0'] - counts['h'] - counts['s'] - counts['w']; other != 0 {
			diff("section %s: %d seats in an unknown state", sec.id, other)
		}
		if i := strings.IndexByte(sec.seats, 'w'); i >= 0 && strings.Trim(sec.seats[i:], "w") != "" {
			diff("section %s: withheld seats are not the last ones", sec.id)
		}
		if n := counts['h'] + counts['s']; n != int64(len(sec.owner)) {
			diff("section %s: %d seats taken, %d belong to a hold", sec.id, n, len(sec.owner))
		}
	}
	fans := make(map[string]bool, len(snap.fans))
	for _, f := range snap.fans {
		fans[f.fan] = true
		if f.held != fanHeld[f.fan] {
			diff("fan %q: held counter %d, live holds hold %d", f.fan, f.held, fanHeld[f.fan])
		}
		if f.bought != fanBought[f.fan] {
			diff("fan %q: bought counter %d, confirmed holds hold %d", f.fan, f.bought, fanBought[f.fan])
		}
	}
	slices.Sort(rep.Differences)
	return rep
}
