package loadtest

import (
	"fmt"
	"slices"
	"time"
)

// EventStats are the organizer's counters, GET /v1/admin/events/{event}/stats.
type EventStats struct {
	Queued          int64          `json:"queued"`
	Admitted        int64          `json:"admitted"`
	Active          int64          `json:"active"`
	Held            int            `json:"held"`
	Sold            int            `json:"sold"`
	Available       int            `json:"available"`
	Capacity        int            `json:"capacity"`
	AdmitRatePerMin float64        `json:"admit_rate_per_min"`
	Sections        []SectionStats `json:"sections"`
	// The door's counters: tickets that entered at least once, tickets inside, first entries per gate.
	CheckedIn int            `json:"checked_in,omitempty"`
	Inside    int            `json:"inside,omitempty"`
	Gates     map[string]int `json:"gates,omitempty"`
}

// SectionStats are one section's counters.
type SectionStats struct {
	ID        string `json:"id"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
	Held      int    `json:"held"`
	Sold      int    `json:"sold"`
}

// OrderRecord is an order one of the generator's fans placed, as the generator last saw it.
type OrderRecord struct {
	OrderID  string         `json:"order_id"`
	HoldID   string         `json:"hold_id"`
	Status   string         `json:"status"` // pending, paying, paid, failed, refunded
	Units    int            `json:"units"`
	Sections map[string]int `json:"sections"` // units per section
	Seats    []string       `json:"seats,omitempty"`
	// Pay is how the fan paid (a payment path: browser, 3ds, 3ds-fail, decline, late, server).
	Pay           string `json:"pay,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
}

// settled reports whether an order's status is final.
func (o OrderRecord) settled() bool {
	return o.Status == "paid" || o.Status == "failed" || o.Status == "refunded"
}

// Audit is the oversell audit: what the organizer's counters say against what the fans were sold.
type Audit struct {
	Checked       bool           `json:"checked"` // false when the stats could not be read
	Passed        bool           `json:"passed"`
	Capacity      int            `json:"capacity"`
	Sold          int            `json:"sold"`
	SoldBefore    int            `json:"sold_before"` // sold when the run began (an existing event)
	Orders        int            `json:"orders"`
	PaidOrders    int            `json:"paid_orders"`
	PaidUnits     int            `json:"paid_units"`
	FailedOrders  int            `json:"failed_orders"`  // failed or refunded
	PendingOrders int            `json:"pending_orders"` // not settled when the audit ran
	LateOrders    int            `json:"late_orders"`    // of fans who authenticated after pay_by
	LateCaptured  int            `json:"late_captured"`  // of those, paid or refunded: money taken too late
	DoubleSold    []string       `json:"double_sold,omitempty"`
	Sections      []SectionAudit `json:"sections,omitempty"`
	Failures      []string       `json:"failures,omitempty"`
}

// SectionAudit is one section's line of the audit.
type SectionAudit struct {
	ID        string `json:"id"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
	Held      int    `json:"held"`
	Sold      int    `json:"sold"` // sold during the run
	PaidUnits int    `json:"paid_units"`
}

// auditSale checks the invariants an on-sale must keep, from the counters before and after the run and the orders
// the fans saw:
//   - nothing sold beyond capacity, overall and per section, and available + held + sold within capacity;
//   - no seat in two paid orders, and no hold in two paid orders;
//   - the units of paid orders equal the units sold during the run, overall and per section (every sale was
//     paid for and every payment got its units);
//   - every order settled, since a pending order cannot be checked;
//   - no order of a fan who authorized after pay_by was captured: each ended failed with hold-expired.
func auditSale(before, after EventStats, orders []OrderRecord) Audit {
	a := Audit{Checked: true, Capacity: after.Capacity, Sold: after.Sold, SoldBefore: before.Sold, Orders: len(orders)}
	fail := func(format string, args ...any) { a.Failures = append(a.Failures, fmt.Sprintf(format, args...)) }

	if after.Sold > after.Capacity {
		fail("sold %d > capacity %d", after.Sold, after.Capacity)
	}
	if after.Available < 0 || after.Held < 0 || after.Sold < 0 {
		fail("negative counters: available %d, held %d, sold %d", after.Available, after.Held, after.Sold)
	}
	if n := after.Available + after.Held + after.Sold; n > after.Capacity {
		fail("available %d + held %d + sold %d = %d > capacity %d", after.Available, after.Held, after.Sold, n, after.Capacity)
	}

	paidBySection := map[string]int{}
	seatOwner := map[string]string{}
	holdOwner := map[string]string{}
	for _, o := range orders {
		if o.Pay == payLate.String() {
			a.LateOrders++
			switch {
			case o.Status == "paid" || o.Status == "refunded":
				a.LateCaptured++
				fail("order %s was authorized after pay_by, yet it is %s: a late authorization was captured", o.OrderID, o.Status)
			case o.Status == "failed" && o.FailureReason != "hold-expired":
				fail("order %s was authorized after pay_by, yet it failed with %q, not hold-expired", o.OrderID, o.FailureReason)
			}
		}
		switch {
		case o.Status == "paid":
			a.PaidOrders++
			a.PaidUnits += o.Units
			for s, n := range o.Sections {
				paidBySection[s] += n
			}
			for _, seat := range o.Seats {
				if prev, ok := seatOwner[seat]; ok && prev != o.OrderID {
					a.DoubleSold = append(a.DoubleSold, seat)
					fail("seat %s is in paid orders %s and %s", seat, prev, o.OrderID)
					continue
				}
				seatOwner[seat] = o.OrderID
			}
			if prev, ok := holdOwner[o.HoldID]; ok && o.HoldID != "" && prev != o.OrderID {
				fail("hold %s is in paid orders %s and %s", o.HoldID, prev, o.OrderID)
			}
			holdOwner[o.HoldID] = o.OrderID
		case o.settled():
			a.FailedOrders++
		default:
			a.PendingOrders++
		}
	}
	if a.PendingOrders > 0 {
		fail("%d orders were still pending when the audit ran, so paid units cannot be matched to sold units", a.PendingOrders)
	}
	if delta := after.Sold - before.Sold; delta != a.PaidUnits {
		fail("units sold during the run %d (%d → %d) ≠ units of paid orders %d", delta, before.Sold, after.Sold, a.PaidUnits)
	}

	soldBefore := map[string]int{}
	for _, s := range before.Sections {
		soldBefore[s.ID] = s.Sold
	}
	seen := map[string]bool{}
	for _, s := range after.Sections {
		seen[s.ID] = true
		sa := SectionAudit{ID: s.ID, Capacity: s.Capacity, Available: s.Available, Held: s.Held, Sold: s.Sold - soldBefore[s.ID], PaidUnits: paidBySection[s.ID]}
		a.Sections = append(a.Sections, sa)
		if s.Sold > s.Capacity {
			fail("section %s: sold %d > capacity %d", s.ID, s.Sold, s.Capacity)
		}
		if n := s.Available + s.Held + s.Sold; n > s.Capacity {
			fail("section %s: available + held + sold = %d > capacity %d", s.ID, n, s.Capacity)
		}
		if a.PendingOrders == 0 && sa.Sold != sa.PaidUnits {
			fail("section %s: units sold during the run %d ≠ units of paid orders %d", s.ID, sa.Sold, sa.PaidUnits)
		}
	}
	if len(after.Sections) > 0 {
		for _, id := range sortedKeys(paidBySection) {
			if !seen[id] {
				fail("paid orders hold %d units of section %s the stats do not list", paidBySection[id], id)
			}
		}
	}
	slices.Sort(a.DoubleSold)
	a.Passed = len(a.Failures) == 0
	return a
}

// DoorAudit is the door audit: what the door answered against what each code was, and the event's check-in
// counters against the answers.
type DoorAudit struct {
	Checked bool `json:"checked"` // false when the stats could not be read
	Passed  bool `json:"passed"`
	Tickets int  `json:"tickets"` // scanned tickets of paid orders
	Revoked int  `json:"revoked"` // of those, of refunded orders
	// By the answers: valid tickets that entered, of those inside at the end, and first entries per gate.
	Entered int            `json:"entered"`
	Inside  int            `json:"inside"`
	Gates   map[string]int `json:"gates"`
	// By the event's stats, during the phase.
	StatsCheckedIn int            `json:"stats_checked_in"`
	StatsInside    int            `json:"stats_inside"`
	StatsGates     map[string]int `json:"stats_gates"`
	Scans          int            `json:"scans"`
	Unexpected     int            `json:"unexpected"`    // scans that did not get the answer their code calls for
	ServerErrors   int            `json:"server_errors"` // 5xx answers
	Failures       []string       `json:"failures,omitempty"`
}

// maxDoorFailures bounds the failures the door audit lists one by one.
const maxDoorFailures = 50

// auditDoor checks the door's answers and counters, after setup's failures (refunds, tickets read):
//   - every scan was sent and answered 200 (no 5xx, no timeout: a verdict, whatever the code);
//   - each got the answer its code calls for: a valid ticket's entry ok and exactly one ok before it leaves, a
//     second scan while inside already-used, an exit and the re-entry ok, a refunded order's ticket revoked, a
//     forged code invalid, another event's ticket wrong-event; an answer about a ticket names that ticket;
//   - a nonce sent again replays its first answer and says so, and a fresh nonce never does;
//   - an already-used or re-entry answer gives the first entry's first_entry_at;
//   - the stats moved as the answers say: checked_in by the valid tickets that entered, inside by those still in,
//     and each gate's first entries.
func auditDoor(vs []*visitor, before, after EventStats, setup []string) DoorAudit {
	a := DoorAudit{Checked: true, Gates: map[string]int{}, StatsGates: map[string]int{}}
	listed := 0
	fail := func(format string, args ...any) {
		if listed < maxDoorFailures {
			a.Failures = append(a.Failures, fmt.Sprintf(format, args...))
		}
		listed++
	}
	for _, f := range setup {
		fail("%s", f)
	}
	for _, v := range vs {
		var ticket string
		var entries int // ok entries during the current stay
		inside, entered := false, false
		var firstAt *time.Time
		for i, s := range v.scans {
			a.Scans++
			if s.status >= 500 {
				a.ServerErrors++
			}
			if ok, got := judge(v, i); !ok {
				a.Unexpected++
				of := ""
				if s.ticket != "" {
					of = " of ticket " + s.ticket
				}
				fail("%s scan%s at %s (nonce %s) got %s, want %s", s.kind, of, s.gate, s.nonce, got, s.kind.expect())
			}
			switch s.kind {
			case scanRevoked:
				a.Tickets++
				a.Revoked++
				continue
			case scanEntry:
				a.Tickets++
				ticket = s.ticket
			case scanForged, scanOther, scanReplay:
				continue
			}
			if s.direction == "exit" {
				entries = 0 // a stay ends, or may have: an exit without a verdict says nothing either way
			}
			// What the door let happen follows its answers, whatever else was wrong with them.
			if s.status != 200 || s.result != "ok" {
				if s.result == "already-used" && firstAt != nil && (s.first == nil || !s.first.Equal(*firstAt)) {
					fail("ticket %s: already-used at %s says first entry %v, the entry was at %v", ticket, s.gate, s.first, *firstAt)
				}
				continue
			}
			switch s.direction {
			case "exit":
				inside = false
			default:
				entries++
				if entries > 1 {
					fail("ticket %s entered twice without going out (the second at %s)", ticket, s.gate)
				}
				if !entered {
					entered, firstAt = true, s.first
					a.Entered++
					a.Gates[s.gate]++
				} else if firstAt != nil && (s.first == nil || !s.first.Equal(*firstAt)) {
					fail("ticket %s: re-entry at %s says first entry %v, the entry was at %v", ticket, s.gate, s.first, *firstAt)
				}
				inside = true
			}
		}
		if inside {
			a.Inside++
		}
	}
	if a.ServerErrors > 0 {
		fail("%d scans answered 5xx", a.ServerErrors)
	}

	a.StatsCheckedIn = after.CheckedIn - before.CheckedIn
	a.StatsInside = after.Inside - before.Inside
	if a.StatsCheckedIn != a.Entered {
		fail("the stats' checked_in grew by %d (%d → %d), the answers let %d valid tickets in", a.StatsCheckedIn, before.CheckedIn, after.CheckedIn, a.Entered)
	}
	if a.StatsInside != a.Inside {
		fail("the stats' inside grew by %d (%d → %d), by the answers %d tickets are inside", a.StatsInside, before.Inside, after.Inside, a.Inside)
	}
	gates := map[string]bool{}
	for g, n := range after.Gates {
		if d := n - before.Gates[g]; d != 0 {
			a.StatsGates[g] = d
		}
		gates[g] = true
	}
	for g := range a.Gates {
		gates[g] = true
	}
	for _, g := range sortedKeys(gates) {
		if a.StatsGates[g] != a.Gates[g] {
			fail("gate %s: the stats count %d first entries during the door phase, the answers %d", g, a.StatsGates[g], a.Gates[g])
		}
	}
	if listed > maxDoorFailures {
		a.Failures = append(a.Failures, fmt.Sprintf("… and %d more", listed-maxDoorFailures))
	}
	a.Passed = listed == 0
	return a
}
