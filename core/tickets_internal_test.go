package core

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/tickets"
)

// TestTicketKeys: an event's first key is made on first use and kept in the ledger sealed; a rotation signs new
// codes with a new key while old codes still verify; a process with another ticket key cannot sign with the
// sealed keys (it makes its own) but still verifies every code; a code for another event is wrong-event.
func TestTicketKeys(t *testing.T) {
	ctx := context.Background()
	ledger := memledger.New()
	masterA, masterB := make([]byte, 32), make([]byte, 32)
	masterB[0] = 1
	a := must(newTicketing(ledger, masterA, time.Now))(t)
	tk := []settlement.Ticket{{ID: "tk_x-1", Section: "GA", Status: settlement.TicketValid}}
	first := must(a.views(ctx, tk, "ev"))(t)
	again := must(a.views(ctx, tk, "ev"))(t)
	if first[0].Code != again[0].Code {
		t.Fatal("the same ticket read twice has two codes")
	}
	stored := must(ledger.TicketKeys(ctx, "ev"))(t)
	if len(stored) != 1 || len(stored[0].Sealed) == 0 {
		t.Fatalf("stored keys %+v", stored)
	}
	old := first[0].Code
	k2 := must(a.rotate(ctx, "ev", true))(t)
	rotated := must(a.views(ctx, tk, "ev"))(t)[0].Code
	if kid, _, _ := tickets.Peek(rotated); kid != k2.ID || rotated == old {
		t.Fatalf("after the rotation the code is signed by %s, want %s", kid, k2.ID)
	}
	for _, code := range []string{old, rotated} {
		if c, v, err := a.check(ctx, code, "ev"); err != nil || v != tickets.VerdictValid || c.TicketID != "tk_x-1" {
			t.Fatalf("check %s: %+v %s %v", code, c, v, err)
		}
	}
	b := must(newTicketing(ledger, masterB, time.Now))(t)
	if c, v, err := b.check(ctx, old, "ev"); err != nil || v != tickets.VerdictValid || c.TicketID != "tk_x-1" {
		t.Fatalf("another ticket key's process: %s %v", v, err)
	}
	kb := must(b.signer(ctx, "ev"))(t)
	if kb.ID == k2.ID || len(must(ledger.TicketKeys(ctx, "ev"))(t)) != 3 {
		t.Fatalf("a process that cannot open the sealed keys signs with %s", kb.ID)
	}
	other := must(a.views(ctx, tk, "other"))(t)[0].Code
	if _, v, err := a.check(ctx, other, "ev"); err != nil || v != tickets.VerdictWrongEvent {
		t.Fatalf("a code of another event: %s %v", v, err)
	}
	tok := a.orders.Issue("ord_1")
	if id, err := a.orders.Verify(tok); err != nil || id != "ord_1" {
		t.Fatalf("order token %q: %s %v", tok, id, err)
	}
	if _, err := b.orders.Verify(tok); err == nil {
		t.Fatal("an order token verified under another ticket key")
	}
	// The link notifications carry opens the order on a server with the same ticket key.
	link := must(OrderLink(masterA, "https://tickets.example"))(t)(settlement.Order{ID: "ord_2"})
	u := must(url.Parse(link))(t)
	if id, err := a.orders.Verify(u.Query().Get("t")); err != nil || id != "ord_2" || u.Path != "/o/ord_2" || u.Host != "tickets.example" {
		t.Fatalf("order link %s: %s %v", link, id, err)
	}
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
