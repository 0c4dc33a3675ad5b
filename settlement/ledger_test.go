package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/pgledger"
)

// ledgers are the Ledger implementations the contract below runs on.
var ledgers = []struct {
	name string
	new  func(t *testing.T) settlement.Ledger
}{
	{"memory", func(*testing.T) settlement.Ledger { return memledger.New() }},
	{"postgres", func(t *testing.T) settlement.Ledger { return pgledger.New(newPool(t)) }},
}

func order(id, hold string) settlement.Order {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return settlement.Order{ID: id, HoldID: hold, Event: "ev", Fan: "fan", Status: settlement.Pending,
		Lines: []inventory.Line{{Section: "GA", Quantity: 2, UnitPrice: 100, Amount: 200}}, Seats: []string{},
		Total: 200, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
}

func TestLedgerContract(t *testing.T) {
	t.Parallel()
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			led := l.new(t)
			o, created, err := led.CreateOrder(ctx, order("o1", "h1"), "key1", time.Now().Add(time.Hour),
				[]settlement.Message{paymentMessage("m1", "o1")})
			if err != nil || !created || o.ID != "o1" {
				t.Fatalf("create: %+v %v %v", o, created, err)
			}
			// One order per hold, and per fan's idempotency key.
			if got, created, err := led.CreateOrder(ctx, order("o2", "h1"), "", time.Now(), nil); err != nil || created || got.ID != "o1" {
				t.Fatalf("same hold: %+v %v %v", got, created, err)
			}
			if got, created, err := led.CreateOrder(ctx, order("o3", "h3"), "key1", time.Now(), nil); err != nil || created || got.ID != "o1" {
				t.Fatalf("same key: %+v %v %v", got, created, err)
			}
			if byKey := must(led.OrderByIdempotencyKey(ctx, "fan", "key1"))(t); byKey.ID != "o1" {
				t.Fatalf("by key: %+v", byKey)
			}
			for _, k := range [][2]string{{"fan", "key2"}, {"other", "key1"}, {"fan", ""}} {
				if _, err := led.OrderByIdempotencyKey(ctx, k[0], k[1]); !errors.Is(err, settlement.ErrNotFound) {
					t.Fatalf("by key %q: %v, want ErrNotFound", k, err)
				}
			}
			got := must(led.Order(ctx, "o1"))(t)
			if got.Total != 200 || len(got.Lines) != 1 || got.Lines[0].Quantity != 2 || got.Status != settlement.Pending {
				t.Fatalf("order %+v", got)
			}
			if _, err := led.Order(ctx, "nope"); !errors.Is(err, settlement.ErrNotFound) {
				t.Fatalf("unknown order: %v", err)
			}
			if h := must(led.OrderByHold(ctx, "h1"))(t); h.ID != "o1" {
				t.Fatal(h)
			}
			// Transitions apply only from their states, record their message once, and write their outbox rows.
			tr := settlement.Transition{OrderID: "o1", From: []settlement.Status{settlement.Pending}, To: settlement.Paying,
				PaymentKey: "pi:o1", Deadline: time.Now().Add(time.Hour)}
			if p, err := led.Transition(ctx, tr); err != nil || p.Status != settlement.Paying || p.PaymentKey != "pi:o1" {
				t.Fatalf("to paying: %+v %v", p, err)
			}
			if p, err := led.Transition(ctx, tr); !errors.Is(err, settlement.ErrConflict) || p.Status != settlement.Paying {
				t.Fatalf("again: %+v %v", p, err)
			}
			paid := settlement.Transition{OrderID: "o1", From: []settlement.Status{settlement.Paying}, To: settlement.Paid,
				PaymentIntent: "pi_1", MessageID: "m1", Outbox: []settlement.Message{{ID: "b1", Topic: settlement.TopicBookingConfirmed, Body: []byte(`{}`)}}}
			if p, err := led.Transition(ctx, paid); err != nil || p.Status != settlement.Paid || p.PaymentIntent != "pi_1" {
				t.Fatalf("to paid: %+v %v", p, err)
			}
			if _, err := led.Transition(ctx, paid); !errors.Is(err, settlement.ErrDuplicate) {
				t.Fatalf("same message again: %v", err)
			}
			if !must(led.Processed(ctx, "m1"))(t) {
				t.Fatal("m1 not processed")
			}
			if byPI := must(led.OrderByPaymentIntent(ctx, "pi_1"))(t); byPI.ID != "o1" {
				t.Fatal(byPI)
			}
			if _, err := led.Transition(ctx, settlement.Transition{OrderID: "nope", From: []settlement.Status{settlement.Pending}, To: settlement.Paying}); !errors.Is(err, settlement.ErrNotFound) {
				t.Fatalf("unknown order: %v", err)
			}
			// A failed publish leaves rows unsent; a partial confirm marks only what was confirmed.
			if n := must(led.OutboxPending(ctx))(t); n != 2 {
				t.Fatalf("%d pending, want 2", n)
			}
			if _, err := led.RelayOutbox(ctx, 10, func(context.Context, []settlement.Message) ([]string, error) {
				return nil, errors.New("broker down")
			}); err == nil {
				t.Fatal("publish error swallowed")
			}
			n, err := led.RelayOutbox(ctx, 10, func(_ context.Context, ms []settlement.Message) ([]string, error) {
				if len(ms) != 2 || ms[0].ID != "m1" || ms[1].ID != "b1" {
					t.Errorf("relayed %+v", ms)
				}
				return []string{"m1"}, errors.New("lost the second confirm")
			})
			if n != 1 || err == nil {
				t.Fatalf("partial: %d %v", n, err)
			}
			if n := must(led.OutboxPending(ctx))(t); n != 1 {
				t.Fatalf("%d pending, want 1", n)
			}
			// Stalled orders: only pending/paying past their deadline, each claimed once.
			_, _, _ = led.CreateOrder(ctx, order("o4", "h4"), "", time.Now().Add(-time.Second), nil)
			var mu sync.Mutex
			claimed := map[string]int{}
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					os, err := led.Redrive(ctx, time.Now(), 10, func(settlement.Order) time.Time { return time.Now().Add(time.Hour) },
						func(o settlement.Order) settlement.Message { return paymentMessage("r-"+o.ID, o.ID) })
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					for _, o := range os {
						claimed[o.ID]++
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			if len(claimed) != 1 || claimed["o4"] != 1 {
				t.Fatalf("claimed %v, want o4 once", claimed)
			}
			if o4 := must(led.Order(ctx, "o4"))(t); o4.Attempts != 1 {
				t.Fatalf("attempts %d", o4.Attempts)
			}
			live := must(led.LiveOrders(ctx, "ev"))(t)
			if len(live) != 2 {
				t.Fatalf("live orders %+v", live)
			}
			// The definition keeps its owner, which the organizer API's access rule reads after a restart.
			ev := inventory.Event{ID: "ev", Currency: "EUR", HoldTTL: time.Minute, MaxPerFan: 4, Owner: "org:acme",
				Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 10, Price: 100}}}
			if err := led.SaveEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if back := must(led.Event(ctx, "ev"))(t); back.HoldTTL != time.Minute || back.Sections[0].Capacity != 10 || back.Owner != "org:acme" {
				t.Fatalf("event %+v", back)
			}
			if _, err := led.Event(ctx, "nope"); !errors.Is(err, settlement.ErrNotFound) {
				t.Fatal(err)
			}
			if err := led.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentRelaysShareTheOutbox: relays running at once never hold the same row (SKIP LOCKED).
func TestConcurrentRelaysShareTheOutbox(t *testing.T) {
	t.Parallel()
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			led := l.new(t)
			for i := range 300 {
				id := "o" + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")
				if _, _, err := led.CreateOrder(ctx, order(id, "h"+id), "", time.Now().Add(time.Hour),
					[]settlement.Message{paymentMessage("m"+id, id)}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			seen := map[string]int{}
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n, err := led.RelayOutbox(ctx, 16, func(_ context.Context, ms []settlement.Message) ([]string, error) {
							ids := make([]string, len(ms))
							mu.Lock()
							for i, m := range ms {
								seen[m.ID]++
								ids[i] = m.ID
							}
							mu.Unlock()
							time.Sleep(time.Millisecond) // hold the rows a moment, as a broker round trip does
							return ids, nil
						})
						if err != nil {
							t.Error(err)
							return
						}
						if n == 0 {
							return
						}
					}
				}()
			}
			wg.Wait()
			if len(seen) != 300 {
				t.Fatalf("%d messages relayed, want 300", len(seen))
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("%s relayed %d times", id, n)
				}
			}
		})
	}
}

// TestConcurrentWritesApplyOnce: writes arriving together (and so committed in one group, on PostgreSQL) keep
// each its own conditions: one order per hold, one transition out of a state, one effect per message id, and
// outbox rows only for the writes that applied.
func TestConcurrentWritesApplyOnce(t *testing.T) {
	t.Parallel()
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			led := l.new(t)
			const n = 40
			// Many orders for one hold, and many independent orders, at once.
			var wg sync.WaitGroup
			var mu sync.Mutex
			created, answered := map[string]bool{}, map[string]bool{}
			for i := range n {
				wg.Add(2)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("same%d", i)
					o, ok, err := led.CreateOrder(ctx, order(id, "hsame"), "", time.Now().Add(time.Hour),
						[]settlement.Message{paymentMessage("m"+id, id)})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					created[id] = ok
					answered[o.ID] = true
					mu.Unlock()
				}()
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("own%d", i)
					if _, ok, err := led.CreateOrder(ctx, order(id, "h"+id), "", time.Now().Add(time.Hour),
						[]settlement.Message{paymentMessage("m"+id, id)}); err != nil || !ok {
						t.Errorf("create %s: %v %v", id, ok, err)
					}
				}()
			}
			wg.Wait()
			winners := 0
			for _, ok := range created {
				if ok {
					winners++
				}
			}
			if winners != 1 || len(answered) != 1 {
				t.Fatalf("one hold: %d created, answered with %d orders", winners, len(answered))
			}
			// Each own order moved twice to paying at once (one applies), then to paid by one message id
			// delivered twice (one applies), and once more by another id (a conflict).
			var applied, conflicts, paid, others sync.Map
			count := func(m *sync.Map, id string) {
				v, _ := m.LoadOrStore(id, new(int64))
				mu.Lock()
				*v.(*int64)++
				mu.Unlock()
			}
			for i := range n {
				id := fmt.Sprintf("own%d", i)
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := led.Transition(ctx, settlement.Transition{OrderID: id, From: []settlement.Status{settlement.Pending},
							To: settlement.Paying, PaymentKey: settlement.PaymentKey(id)})
						switch {
						case err == nil:
							count(&applied, id)
						case errors.Is(err, settlement.ErrConflict):
							count(&conflicts, id)
						default:
							t.Error(err)
						}
					}()
				}
			}
			wg.Wait()
			for i := range n {
				id := fmt.Sprintf("own%d", i)
				for j := range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						msg := "pay-" + id
						if j == 2 {
							msg = "other-" + id
						}
						o, err := led.Transition(ctx, settlement.Transition{OrderID: id, From: []settlement.Status{settlement.Paying},
							To: settlement.Paid, PaymentIntent: "pi_" + id, MessageID: msg,
							Outbox: []settlement.Message{{ID: fmt.Sprintf("b%d-%s", j, id), Topic: settlement.TopicBookingConfirmed, Body: []byte(`{}`)}}})
						switch {
						case err == nil && o.Status == settlement.Paid && o.PaymentIntent == "pi_"+id:
							count(&paid, id)
						case errors.Is(err, settlement.ErrDuplicate), errors.Is(err, settlement.ErrConflict):
							count(&others, id)
						default:
							t.Errorf("to paid: %+v %v", o, err)
						}
					}()
				}
			}
			wg.Wait()
			for i := range n {
				id := fmt.Sprintf("own%d", i)
				for _, c := range []struct {
					m    *sync.Map
					want int64
					what string
				}{{&applied, 1, "to paying"}, {&conflicts, 1, "paying conflicts"}, {&paid, 1, "to paid"}, {&others, 2, "refused payments"}} {
					v, _ := c.m.Load(id)
					if got, _ := v.(*int64); got == nil || *got != c.want {
						t.Fatalf("%s: %s %v times, want %d", id, c.what, v, c.want)
					}
				}
			}
			// Outbox: n+1 payment requests and n booking events, nothing for the writes that did not apply.
			if got := must(led.OutboxPending(ctx))(t); got != 2*n+1 {
				t.Fatalf("%d outbox rows, want %d", got, 2*n+1)
			}
		})
	}
}
