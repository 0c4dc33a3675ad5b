package loadtest

import (
	"fmt"
	"slices"
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
