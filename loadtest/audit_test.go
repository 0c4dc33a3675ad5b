package loadtest

import (
	"strings"
	"testing"
)

func stats(capacity, available, held, sold int, sections ...SectionStats) EventStats {
	return EventStats{Capacity: capacity, Available: available, Held: held, Sold: sold, Sections: sections}
}

func TestAuditPassesAnHonestSale(t *testing.T) {
	t.Parallel()
	before := stats(10, 10, 0, 0, SectionStats{ID: "GA", Capacity: 6, Available: 6}, SectionStats{ID: "A", Capacity: 4, Available: 4})
	after := stats(10, 1, 1, 8, SectionStats{ID: "GA", Capacity: 6, Sold: 5, Held: 1}, SectionStats{ID: "A", Capacity: 4, Available: 1, Sold: 3})
	orders := []OrderRecord{
		{OrderID: "o1", HoldID: "h1", Status: "paid", Units: 5, Sections: map[string]int{"GA": 5}},
		{OrderID: "o2", HoldID: "h2", Status: "paid", Units: 2, Sections: map[string]int{"A": 2}, Seats: []string{"A-1-1", "A-1-2"}},
		{OrderID: "o3", HoldID: "h3", Status: "paid", Units: 1, Sections: map[string]int{"A": 1}, Seats: []string{"A-1-3"}},
		{OrderID: "o4", HoldID: "h4", Status: "failed", Units: 2, Sections: map[string]int{"A": 2}, Seats: []string{"A-1-1", "A-1-2"}},
	}
	a := auditSale(before, after, orders)
	if !a.Passed {
		t.Fatalf("honest sale failed: %v", a.Failures)
	}
	if a.PaidOrders != 3 || a.PaidUnits != 8 || a.FailedOrders != 1 || len(a.Sections) != 2 {
		t.Errorf("audit %+v", a)
	}
}

func TestAuditFailsAnOversoldSale(t *testing.T) {
	t.Parallel()
	before := stats(10, 10, 0, 0)
	for _, tc := range []struct {
		name   string
		after  EventStats
		orders []OrderRecord
		want   string
	}{
		{
			name:   "sold beyond capacity",
			after:  stats(10, 0, 0, 12),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 12}},
			want:   "sold 12 > capacity 10",
		},
		{
			name:  "a seat in two paid orders",
			after: stats(10, 8, 0, 2),
			orders: []OrderRecord{
				{OrderID: "o1", HoldID: "h1", Status: "paid", Units: 1, Seats: []string{"A-1-1"}},
				{OrderID: "o2", HoldID: "h2", Status: "paid", Units: 1, Seats: []string{"A-1-1"}},
			},
			want: "seat A-1-1 is in paid orders o1 and o2",
		},
		{
			name:   "sold units nobody paid for",
			after:  stats(10, 7, 0, 3),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 2}},
			want:   "units sold during the run 3",
		},
		{
			name:   "a paid order without units sold",
			after:  stats(10, 8, 0, 2),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 2}, {OrderID: "o2", Status: "paid", Units: 1}},
			want:   "≠ units of paid orders 3",
		},
		{
			name:   "more units than exist",
			after:  stats(10, 5, 4, 2),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 2}},
			want:   "> capacity 10",
		},
		{
			name:   "an order never settled",
			after:  stats(10, 10, 0, 0),
			orders: []OrderRecord{{OrderID: "o1", Status: "paying", Units: 1}},
			want:   "still pending",
		},
		{
			name:   "a late authorization captured",
			after:  stats(10, 8, 0, 2),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 2, Pay: "late"}},
			want:   "order o1 was authorized after pay_by, yet it is paid",
		},
		{
			name:   "a late authorization captured, then refunded",
			after:  stats(10, 10, 0, 0),
			orders: []OrderRecord{{OrderID: "o1", Status: "refunded", Units: 2, Pay: "late"}},
			want:   "yet it is refunded: a late authorization was captured",
		},
		{
			name:   "a late order failed for another reason",
			after:  stats(10, 10, 0, 0),
			orders: []OrderRecord{{OrderID: "o1", Status: "failed", FailureReason: "card_declined", Units: 1, Pay: "late"}},
			want:   `failed with "card_declined", not hold-expired`,
		},
		{
			name:   "a section oversold although the total fits",
			after:  stats(10, 2, 0, 8, SectionStats{ID: "GA", Capacity: 5, Sold: 7}, SectionStats{ID: "A", Capacity: 5, Available: 2, Sold: 1}),
			orders: []OrderRecord{{OrderID: "o1", Status: "paid", Units: 7, Sections: map[string]int{"GA": 7}}, {OrderID: "o2", Status: "paid", Units: 1, Sections: map[string]int{"A": 1}}},
			want:   "section GA: sold 7 > capacity 5",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := auditSale(before, tc.after, tc.orders)
			if a.Passed {
				t.Fatalf("audit passed: %+v", a)
			}
			if !strings.Contains(strings.Join(a.Failures, "\n"), tc.want) {
				t.Fatalf("failures %q do not say %q", a.Failures, tc.want)
			}
			if v := (Report{Audit: a}).Check(Budget{Overall: OverallBudget{AuditMustPass: true}}); len(v) != 1 {
				t.Fatalf("budget check of a failed audit: %v", v)
			}
		})
	}
}

func TestAuditCountsOnlyTheRunOnAnExistingEvent(t *testing.T) {
	t.Parallel()
	before := stats(10, 6, 0, 4)
	after := stats(10, 3, 0, 7)
	a := auditSale(before, after, []OrderRecord{{OrderID: "o1", Status: "paid", Units: 3}})
	if !a.Passed || a.SoldBefore != 4 {
		t.Fatalf("audit %+v", a)
	}
}

func TestAuditPassesLateOrdersThatExpired(t *testing.T) {
	t.Parallel()
	orders := []OrderRecord{
		{OrderID: "o1", Status: "paid", Units: 2, Pay: "browser"},
		{OrderID: "o2", Status: "failed", FailureReason: "hold-expired", Units: 1, Pay: "late"},
		{OrderID: "o3", Status: "failed", FailureReason: "payment_intent_authentication_failure", Units: 1, Pay: "3ds-fail"},
	}
	a := auditSale(stats(10, 10, 0, 0), stats(10, 8, 0, 2), orders)
	if !a.Passed || a.LateOrders != 1 || a.LateCaptured != 0 || a.FailedOrders != 2 {
		t.Fatalf("audit %+v", a)
	}
	// The same sale with the late order captured fails, and the budget says so.
	orders[1].Status, orders[1].FailureReason = "paid", ""
	a = auditSale(stats(10, 10, 0, 0), stats(10, 7, 0, 3), orders)
	if a.Passed || a.LateCaptured != 1 {
		t.Fatalf("a captured late authorization passed: %+v", a)
	}
	if v := (Report{Audit: a}).Check(Budget{Overall: OverallBudget{AuditMustPass: true}}); len(v) != 1 || !strings.Contains(v[0].Detail, "late authorization") {
		t.Fatalf("violations %v", v)
	}
}
