package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/testpay"
)

// listingOrders writes n orders over two events, four fans and every status, many sharing a creation time, so
// that the listing's order rests on the id as much as on the time.
func listingOrders(t *testing.T, led settlement.Ledger, n int) []settlement.Order {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []settlement.Status{settlement.Pending, settlement.Paying, settlement.RequiresAction, settlement.Paid,
		settlement.Failed, settlement.Refunded}
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var all []settlement.Order
	for i := range n {
		o := order(fmt.Sprintf("o%03d", rng.IntN(1000)*1000+i), fmt.Sprintf("h%d", i))
		o.Event = []string{"ev-a", "ev-b"}[rng.IntN(2)]
		o.Fan = []string{"alice", "bob", "carol", "dave"}[rng.IntN(4)]
		o.Status = statuses[rng.IntN(len(statuses))]
		o.CreatedAt = base.Add(time.Duration(rng.IntN(n/4+1)) * time.Second) // about four orders a second
		o.UpdatedAt = o.CreatedAt
		if _, created, err := led.CreateOrder(ctx, o, "", o.CreatedAt.Add(time.Hour), nil); err != nil || !created {
			t.Fatalf("create %s: %v %v", o.ID, created, err)
		}
		all = append(all, o)
	}
	return all
}

// want is what a query selects of all, newest first.
func want(all []settlement.Order, q settlement.OrderQuery) []string {
	var ids []settlement.Order
	for _, o := range all {
		if (q.Event == "" || o.Event == q.Event) && (q.Fan == "" || o.Fan == q.Fan) && (q.Status == "" || o.Status == q.Status) {
			ids = append(ids, o)
		}
	}
	slices.SortFunc(ids, func(a, b settlement.Order) int {
		if a.Key().Before(b.Key()) {
			return -1
		}
		return 1
	})
	out := make([]string, len(ids))
	for i, o := range ids {
		out[i] = o.ID
	}
	return out
}

// pageAll reads every page of q, pages of size drawn by size.
func pageAll(t interface{ Fatalf(string, ...any) }, svc orderLister, q settlement.OrderQuery, size func() int) []string {
	var got []string
	for range 10_000 {
		q.Limit = size()
		page, err := svc.Orders(context.Background(), q)
		if err != nil {
			t.Fatalf("orders %+v: %v", q, err)
		}
		for _, o := range page {
			got = append(got, o.ID)
		}
		if len(page) < q.Limit {
			return got
		}
		k := page[len(page)-1].Key()
		q.After = &k
	}
	t.Fatalf("paging %+v does not end", q)
	return nil
}

type orderLister interface {
	Orders(ctx context.Context, q settlement.OrderQuery) ([]settlement.Order, error)
}

// TestOrderListing pages through every shape of query with pages of every size: each order the query selects
// comes once, in order, none missing, on both ledgers alike.
func TestOrderListing(t *testing.T) {
	t.Parallel()
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			led := l.new(t)
			all := listingOrders(t, led, 150)
			rapid.Check(t, func(rt *rapid.T) {
				q := settlement.OrderQuery{
					Event:  rapid.SampledFrom([]string{"", "ev-a", "ev-b", "ev-none"}).Draw(rt, "event"),
					Fan:    rapid.SampledFrom([]string{"", "alice", "dave", "nobody"}).Draw(rt, "fan"),
					Status: settlement.Status(rapid.SampledFrom([]string{"", "paid", "failed", "requires_action"}).Draw(rt, "status")),
				}
				if q.Event == "" && q.Fan == "" {
					q.Event = "ev-a"
				}
				got := pageAll(rt, led, q, func() int { return rapid.IntRange(1, 60).Draw(rt, "limit") })
				if w := want(all, q); !slices.Equal(got, w) {
					rt.Fatalf("query %+v paged\n%v\nwant\n%v", q, got, w)
				}
			})
		})
	}
}

// TestOrderListingWhileWriting: orders created or settled between two pages neither repeat nor push another out.
func TestOrderListingWhileWriting(t *testing.T) {
	t.Parallel()
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			led := l.new(t)
			all := listingOrders(t, led, 40)
			q := settlement.OrderQuery{Event: "ev-a", Limit: 5}
			before := want(all, q)
			var got []string
			for i := 0; ; i++ {
				page := must(led.Orders(ctx, q))(t)
				for _, o := range page {
					got = append(got, o.ID)
				}
				if len(page) < q.Limit {
					break
				}
				// A newer order arrives, and an order already listed settles.
				n := order(fmt.Sprintf("new%02d", i), fmt.Sprintf("hn%d", i))
				n.Event, n.CreatedAt = "ev-a", time.Now().UTC().Truncate(time.Microsecond)
				if _, _, err := led.CreateOrder(ctx, n, "", time.Now().Add(time.Hour), nil); err != nil {
					t.Fatal(err)
				}
				if page[0].Status == settlement.Pending {
					if _, err := led.Transition(ctx, settlement.Transition{OrderID: page[0].ID, From: []settlement.Status{settlement.Pending},
						To: settlement.Failed, FailureReason: "card_declined"}); err != nil {
						t.Fatal(err)
					}
				}
				k := page[len(page)-1].Key()
				q.After = &k
			}
			if !slices.Equal(got, before) {
				t.Fatalf("paged %v, want the orders there were at the start %v", got, before)
			}
		})
	}
}

// TestOrderQueryChecked: the service refuses a query without an event or fan, a bad limit or an unknown status.
func TestOrderQueryChecked(t *testing.T) {
	t.Parallel()
	svc := settlement.New(memledger.New(), nil, testpay.New(), nil, settlement.Options{Registerer: noRegistry{}})
	for _, q := range []settlement.OrderQuery{
		{Limit: 10},
		{Event: "ev", Limit: 0},
		{Event: "ev", Limit: settlement.MaxOrderPage + 1},
		{Fan: "alice", Limit: 10, Status: "sold"},
	} {
		if _, err := svc.Orders(context.Background(), q); !errors.Is(err, settlement.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", q, err)
		}
	}
	if os, err := svc.Orders(context.Background(), settlement.OrderQuery{Fan: "alice", Limit: 10}); err != nil || len(os) != 0 {
		t.Errorf("a fan without orders: %v %v", os, err)
	}
}
