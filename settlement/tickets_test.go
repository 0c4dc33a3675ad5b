package settlement_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
)

func TestTicketsOf(t *testing.T) {
	o := settlement.Order{ID: "ord_abc", Event: "ev", Seats: []string{"A-1-3", "A-1-4", "B_2-10-1"},
		Lines: []inventory.Line{{Section: "GA", Quantity: 2}, {Section: "A", Quantity: 2}, {Section: "B_2", Quantity: 1}}}
	got := settlement.TicketsOf(o)
	want := []settlement.Ticket{
		{ID: "tk_abc-1", Section: "A", Seat: "A-1-3"}, {ID: "tk_abc-2", Section: "A", Seat: "A-1-4"},
		{ID: "tk_abc-3", Section: "B_2", Seat: "B_2-10-1"}, {ID: "tk_abc-4", Section: "GA"}, {ID: "tk_abc-5", Section: "GA"}}
	for i := range want {
		want[i].OrderID, want[i].Event, want[i].Status = "ord_abc", "ev", settlement.TicketValid
	}
	if !slices.Equal(got, want) {
		t.Fatalf("TicketsOf = %+v\nwant %+v", got, want)
	}
	if again := settlement.TicketsOf(o); !slices.Equal(again, got) {
		t.Fatal("TicketsOf is not deterministic")
	}
}

// TestTicketsIssuedAndRevoked: a paid order has one valid ticket per unit, written with the paid transition; a
// failed order has none; a refund revokes them (as soon as it is asked for) and lists them as revoked.
func TestTicketsIssuedAndRevoked(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.await(t, f.checkout(t, "uma", 3, "pm_card_visa").ID)
		ts := must(f.svc.Tickets(ctx, o.ID))(t)
		if len(ts) != 3 {
			t.Fatalf("tickets %+v, want 3", ts)
		}
		for _, tk := range ts {
			if tk.Status != settlement.TicketValid || tk.Section != "GA" || tk.Event != f.event || tk.OrderID != o.ID {
				t.Fatalf("ticket %+v", tk)
			}
		}
		failed := f.await(t, f.checkout(t, "uma", 1, "pm_card_chargeDeclined").ID)
		if ts := must(f.svc.Tickets(ctx, failed.ID))(t); len(ts) != 0 {
			t.Fatalf("a failed order has tickets %+v", ts)
		}
		if ids, _ := must2(f.ledger.RevokedTickets(ctx, f.event))(t); len(ids) != 0 {
			t.Fatalf("revoked before any refund: %v", ids)
		}
		if _, err := f.svc.RequestRefund(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		// Revoked in the transaction that asks for the refund, before the money is back.
		for _, tk := range must(f.svc.Tickets(ctx, o.ID))(t) {
			if tk.Status != settlement.TicketRevoked {
				t.Fatalf("ticket %+v after the refund request", tk)
			}
		}
		f.awaitStatus(t, o.ID, settlement.Refunded)
		ids, asOf := must2(f.ledger.RevokedTickets(ctx, f.event))(t)
		if len(ids) != 3 || asOf.IsZero() {
			t.Fatalf("revoked %v as of %v", ids, asOf)
		}
		r := must(f.ledger.CheckIn(ctx, settlement.Scan{Event: f.event, Nonce: "n1", TicketID: ts[0].ID, Direction: "entry"}))(t)
		if r.Result != settlement.ScanRevoked {
			t.Fatalf("scan of a revoked ticket: %+v", r)
		}
	})
}

// TestBookingEventLinksTheOrder: a paid order's booking event carries the link to its order page.
func TestBookingEventLinksTheOrder(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{OrderURL: func(o settlement.Order) string { return "https://t.example/o/" + o.ID }})
		o := f.await(t, f.checkout(t, "wyn", 1, "pm_card_visa").ID)
		if ev := f.booking(t, o.ID); ev.OrderURL != "https://t.example/o/"+o.ID {
			t.Fatalf("booking event %+v", ev)
		}
		failed := f.await(t, f.checkout(t, "wyn", 1, "pm_card_chargeDeclined").ID)
		if ev := f.booking(t, failed.ID); ev.OrderURL != "" {
			t.Fatalf("a failed order's booking event links %q", ev.OrderURL)
		}
	})
}

// TestCheckIn: of 50 concurrent scans of one ticket exactly one enters; a repeated nonce replays its first
// answer; a ticket enters again only after an exit; a verdict decided before the ledger (invalid) is recorded
// and replayed too; the door stats count entries per gate.
func TestCheckIn(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.await(t, f.checkout(t, "vic", 2, "pm_card_visa").ID)
		ts := must(f.svc.Tickets(ctx, o.ID))(t)
		tk := ts[0].ID
		results := make([]settlement.ScanResult, 50)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.ledger.CheckIn(ctx, settlement.Scan{Event: f.event, Nonce: fmt.Sprintf("c%d", i), TicketID: tk,
					Gate: "north", Direction: "entry"})
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch r.Result {
			case settlement.ScanOK:
				ok++
			case settlement.ScanAlreadyUsed:
			default:
				t.Fatalf("concurrent scan answered %+v", r)
			}
			if r.FirstEntryAt.IsZero() {
				t.Fatalf("scan %+v without the first entry time", r)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 50 concurrent scans entered, want exactly 1", ok)
		}
		if got := must(f.svc.Tickets(ctx, o.ID))(t); got[0].Status != settlement.TicketCheckedIn || got[1].Status != settlement.TicketValid {
			t.Fatalf("tickets after the entry %+v", got)
		}
		scan := func(nonce, dir string) settlement.ScanResult {
			return must(f.ledger.CheckIn(ctx, settlement.Scan{Event: f.event, Nonce: nonce, TicketID: tk, Gate: "south",
				Direction: dir, ScannedAt: time.Now().UTC()}))(t)
		}
		first := results[slices.IndexFunc(results, func(r settlement.ScanResult) bool { return r.Result == settlement.ScanOK })]
		for i, want := range results[:5] {
			if r := scan(fmt.Sprintf("c%d", i), "entry"); r.Result != want.Result || !r.Replayed {
				t.Fatalf("nonce c%d replayed %+v, want %+v", i, r, want)
			}
		}
		if r := scan("x1", "exit"); r.Result != settlement.ScanOK {
			t.Fatalf("exit %+v", r)
		}
		if r := scan("e2", "entry"); r.Result != settlement.ScanOK || !r.FirstEntryAt.Equal(first.FirstEntryAt) {
			t.Fatalf("entry after the exit %+v, want ok with the first entry %v", r, first.FirstEntryAt)
		}
		if r := scan("e3", "entry"); r.Result != settlement.ScanAlreadyUsed {
			t.Fatalf("entry while inside %+v", r)
		}
		bad := settlement.Scan{Event: f.event, Nonce: "bad", Verdict: settlement.ScanInvalid}
		if r := must(f.ledger.CheckIn(ctx, bad))(t); r.Result != settlement.ScanInvalid || r.Replayed {
			t.Fatalf("invalid %+v", r)
		}
		bad.Verdict = settlement.ScanOK // the nonce answers as the first time, whatever comes with it
		if r := must(f.ledger.CheckIn(ctx, bad))(t); r.Result != settlement.ScanInvalid || !r.Replayed {
			t.Fatalf("invalid replayed %+v", r)
		}
		if r := must(f.ledger.CheckIn(ctx, settlement.Scan{Event: f.event, Nonce: "u1", TicketID: "tk_nope-1"}))(t); r.Result != settlement.ScanInvalid {
			t.Fatalf("unknown ticket %+v", r)
		}
		st := must(f.ledger.DoorStats(ctx, f.event))(t)
		if st.CheckedIn != 1 || st.Inside != 1 || st.Gates["north"] != 1 || st.Conflicts != 0 {
			t.Fatalf("door stats %+v", st)
		}
	})
}

// TestCheckInConflicts: scans that scanners admitted while offline and upload later count as conflicts when the
// ledger refuses them (entered elsewhere first, or revoked), once per scan however often it is uploaded; admitted
// scans the ledger accepts, and refused scans nobody admitted, are no conflict.
func TestCheckInConflicts(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.await(t, f.checkout(t, "cory", 2, "pm_card_visa").ID)
		ts := must(f.svc.Tickets(ctx, o.ID))(t)
		offline := time.Now().Add(-time.Minute).UTC()
		upload := func(nonce, gate, ticket string, admitted bool) settlement.ScanResult {
			return must(f.ledger.CheckIn(ctx, settlement.Scan{Event: f.event, Nonce: nonce, TicketID: ticket, Gate: gate,
				Direction: "entry", ScannedAt: offline, Admitted: admitted}))(t)
		}
		if r := upload("a1", "north", ts[0].ID, true); r.Result != settlement.ScanOK {
			t.Fatalf("first offline entry %+v", r)
		}
		if r := upload("b1", "south", ts[0].ID, true); r.Result != settlement.ScanAlreadyUsed {
			t.Fatalf("the same ticket let in at another gate %+v", r)
		}
		upload("b1", "south", ts[0].ID, true)  // the upload retried
		upload("b2", "south", ts[0].ID, false) // refused at the gate too: nobody got in
		if r := upload("c1", "east", ts[1].ID, true); r.Result != settlement.ScanOK {
			t.Fatalf("the other ticket %+v", r)
		}
		if st := must(f.ledger.DoorStats(ctx, f.event))(t); st.Conflicts != 1 || st.CheckedIn != 2 {
			t.Fatalf("door stats %+v, want 1 conflict and 2 checked in", st)
		}
		bad := settlement.Scan{Event: f.event, Nonce: "d1", Verdict: settlement.ScanInvalid, Admitted: true}
		must(f.ledger.CheckIn(ctx, bad))(t)
		if st := must(f.ledger.DoorStats(ctx, f.event))(t); st.Conflicts != 2 {
			t.Fatalf("door stats %+v after an admitted invalid code, want 2 conflicts", st)
		}
	})
}

func must2[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}
