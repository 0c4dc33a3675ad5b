package pgledger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
)

// TestSplitGroup: a group of splitGroup writes or more commits as two halves at once; every write applies once,
// a refused write fails alone (its half re-run write by write), and the other half is not held back by it.
func TestSplitGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, err := pgxpool.New(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	l := New(p)
	now := time.Now().UTC()
	order := func(id string) settlement.Order {
		return settlement.Order{ID: id, HoldID: "h" + id, Event: "ev", Fan: "f", Status: settlement.Pending,
			Total: 1, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
	}
	const existing, fresh = 150, 150
	for i := range existing {
		if _, ok, err := l.CreateOrder(ctx, order(fmt.Sprintf("e%d", i)), "", now, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	groups0, writes0 := l.GroupStats()

	// Hold the lead so that every write below queues, then hand it to the first: it takes them all at once.
	l.group.mu.Lock()
	l.group.leading = true
	l.group.mu.Unlock()
	var wg sync.WaitGroup
	transErrs := make([]error, existing)
	createErrs := make([]error, fresh)
	created := make([]bool, fresh)
	for i := range existing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := settlement.Paying
			if i == 7 {
				to = "bogus" // refused by the status check
			}
			_, transErrs[i] = l.Transition(ctx, settlement.Transition{OrderID: fmt.Sprintf("e%d", i),
				From: []settlement.Status{settlement.Pending}, To: to, MessageID: fmt.Sprintf("m%d", i),
				Outbox: []settlement.Message{{ID: fmt.Sprintf("x%d", i), Topic: "t", Body: []byte(`{}`)}}})
		}()
	}
	for i := range fresh {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created[i], createErrs[i] = l.CreateOrder(ctx, order(fmt.Sprintf("n%d", i)), "", now,
				[]settlement.Message{{ID: fmt.Sprintf("p%d", i), Topic: "t", Body: []byte(`{}`)}})
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.group.mu.Lock()
		n := len(l.group.queue)
		if n == existing+fresh {
			l.group.queue[0].lead <- struct{}{}
		}
		l.group.mu.Unlock()
		if n == existing+fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", n, existing+fresh)
		}
	}
	wg.Wait()

	groups, writes := l.GroupStats()
	if groups-groups0 != 2 || writes-writes0 != existing+fresh {
		t.Fatalf("%d writes in %d groups, want %d in 2", writes-writes0, groups-groups0, existing+fresh)
	}
	if l.GroupFallbacks() != 1 {
		t.Fatalf("%d groups re-run write by write, want 1", l.GroupFallbacks())
	}
	for i, err := range transErrs {
		if (i == 7) != (err != nil) {
			t.Fatalf("transition %d: %v", i, err)
		}
	}
	for i := range fresh {
		if createErrs[i] != nil || !created[i] {
			t.Fatalf("create %d: %v %v", i, created[i], createErrs[i])
		}
	}
	var paying, orders, outbox, processed int
	if err := p.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE status = 'paying'), (SELECT count(*) FROM orders),
		(SELECT count(*) FROM outbox), (SELECT count(*) FROM processed_messages)`).Scan(&paying, &orders, &outbox, &processed); err != nil {
		t.Fatal(err)
	}
	if paying != existing-1 || orders != existing+fresh || outbox != existing-1+fresh || processed != existing-1 {
		t.Fatalf("%d paying of %d orders, %d outbox rows, %d processed ids", paying, orders, outbox, processed)
	}
	// The lead went back: one more write goes through.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, ok, err := l.CreateOrder(wctx, order("last"), "", now, nil); err != nil || !ok {
		t.Fatalf("after the split group: %v %v", ok, err)
	}
}
