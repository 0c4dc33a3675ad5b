package pgledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/pgledger"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// ledger is a ledger on a migrated fresh database, with its pool for direct queries.
func ledger(t *testing.T) (*pgxpool.Pool, *pgledger.Ledger) {
	t.Helper()
	p := pool(t)
	if err := pgledger.Migrate(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p, pgledger.New(p)
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	p := pool(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- pgledger.Migrate(ctx, p) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := pgledger.Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	var n int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("%d migrations recorded (%v), want %d", n, err, len(files))
	}
}

func TestReportingViews(t *testing.T) {
	t.Parallel()
	p, l := ledger(t)
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(id string, qty int, to settlement.Status) {
		o := settlement.Order{ID: id, HoldID: "h" + id, Event: "tour", Fan: "f" + id, Status: settlement.Pending,
			Lines: []inventory.Line{{Section: "GA", Quantity: qty, UnitPrice: 100, Amount: int64(qty) * 100}},
			Total: int64(qty) * 100, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
		if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Hour), nil); err != nil {
			t.Fatal(err)
		}
		if to == settlement.Pending {
			return
		}
		for _, tr := range []settlement.Transition{
			{OrderID: id, From: []settlement.Status{settlement.Pending}, To: settlement.Paying},
			{OrderID: id, From: []settlement.Status{settlement.Paying}, To: to},
		} {
			if _, err := l.Transition(ctx, tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("a", 2, settlement.Paid)
	mk("b", 3, settlement.Paid)
	mk("c", 1, settlement.Refunded)
	mk("d", 1, settlement.Failed)
	mk("e", 4, settlement.Pending)
	for c, v := range map[string]int64{"queued": 100, "admitted": 40, "held": 12} {
		if err := l.AddCounter(ctx, "tour", c, v); err != nil {
			t.Fatal(err)
		}
	}
	var units, revenue int64
	if err := p.QueryRow(ctx, `SELECT sum(units), sum(revenue) FROM sales_per_section_minute WHERE event_id = 'tour' AND section = 'GA'`).Scan(&units, &revenue); err != nil {
		t.Fatal(err)
	}
	if units != 5 || revenue != 500 {
		t.Fatalf("sales: %d units, %d revenue", units, revenue)
	}
	var paidOrders, rev, refundedOrders, refunded int64
	if err := p.QueryRow(ctx, `SELECT paid_orders, revenue, refunded_orders, refunded_amount FROM revenue WHERE event_id = 'tour'`).Scan(&paidOrders, &rev, &refundedOrders, &refunded); err != nil {
		t.Fatal(err)
	}
	if paidOrders != 2 || rev != 500 || refundedOrders != 1 || refunded != 100 {
		t.Fatalf("revenue %d %d %d %d", paidOrders, rev, refundedOrders, refunded)
	}
	var nRefunds int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM refunds WHERE event_id = 'tour'`).Scan(&nRefunds); err != nil || nRefunds != 1 {
		t.Fatalf("refunds %d %v", nRefunds, err)
	}
	var queued, admitted, held, checkedOut, paid, failed, inProgress int64
	if err := p.QueryRow(ctx, `SELECT queued, admitted, held, checked_out, paid, failed, in_progress FROM funnel WHERE event_id = 'tour'`).
		Scan(&queued, &admitted, &held, &checkedOut, &paid, &failed, &inProgress); err != nil {
		t.Fatal(err)
	}
	if queued != 100 || admitted != 40 || held != 12 || checkedOut != 5 || paid != 2 || failed != 1 || inProgress != 1 {
		t.Fatalf("funnel %d %d %d %d %d %d %d", queued, admitted, held, checkedOut, paid, failed, inProgress)
	}
}

// TestGroupCommit: many concurrent writers, some giving up while they wait, all the others committed.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	_, l := ledger(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]bool{}
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("o%d", i)
			o := settlement.Order{ID: id, HoldID: "h" + id, Event: "ev", Fan: "f", Status: settlement.Pending,
				Total: 1, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
			cctx := ctx
			if i%7 == 0 {
				var cancel context.CancelFunc
				cctx, cancel = context.WithTimeout(ctx, time.Duration(i%3)*time.Millisecond)
				defer cancel()
			}
			_, ok, err := l.CreateOrder(cctx, o, "", now, nil)
			if err != nil && i%7 != 0 {
				t.Error(err)
			}
			if err == nil && ok {
				mu.Lock()
				created[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range 300 {
		id := fmt.Sprintf("o%d", i)
		if i%7 != 0 && !created[id] {
			t.Fatalf("%s not created", id)
		}
	}
	groups, stmts := l.GroupStats()
	if groups == 0 || stmts < 300-(300+6)/7 { // every write but the ones that gave up (i%7 == 0)
		t.Fatalf("%d groups carried %d statements", groups, stmts)
	}
	t.Logf("%d statements in %d group commits", stmts, groups)
	// The queue is not stuck after the abandoned waiters: one more write goes through.
	o := settlement.Order{ID: "last", HoldID: "hlast", Event: "ev", Fan: "f", Status: settlement.Pending,
		Total: 1, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, ok, err := l.CreateOrder(wctx, o, "", now, nil); err != nil || !ok {
		t.Fatalf("after abandons: %v %v", ok, err)
	}
}

// TestGroupWithABadWrite: a write PostgreSQL refuses fails alone; the writes grouped with it are applied.
func TestGroupWithABadWrite(t *testing.T) {
	t.Parallel()
	p, l := ledger(t)
	ctx := context.Background()
	now := time.Now().UTC()
	const n = 60
	for i := range n {
		o := settlement.Order{ID: fmt.Sprintf("g%d", i), HoldID: fmt.Sprintf("hg%d", i), Event: "ev", Fan: "f",
			Status: settlement.Pending, Total: 1, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
		if _, ok, err := l.CreateOrder(ctx, o, "", now, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				to := settlement.Paying
				if i == round*7 {
					to = "bogus" // refused by the status check
				}
				_, errs[i] = l.Transition(ctx, settlement.Transition{OrderID: fmt.Sprintf("g%d", i),
					From: []settlement.Status{settlement.Pending, settlement.Paying}, To: to,
					MessageID: fmt.Sprintf("m%d-%d", round, i),
					Outbox:    []settlement.Message{{ID: fmt.Sprintf("x%d-%d", round, i), Topic: "t", Body: []byte(`{}`)}}})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if (i == round*7) != (err != nil) {
				t.Fatalf("round %d write %d: %v", round, i, err)
			}
		}
	}
	var outbox, processed int
	if err := p.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM processed_messages)`).Scan(&outbox, &processed); err != nil {
		t.Fatal(err)
	}
	if outbox != 3*(n-1) || processed != 3*(n-1) {
		t.Fatalf("%d outbox rows and %d processed ids, want %d each", outbox, processed, 3*(n-1))
	}
}

// TestRelayCursorWaitsForOlderTransactions: a row whose transaction took its seq before a later row committed is
// still relayed when it commits, though the relay has read past its seq in between; and a row the broker did not
// confirm goes out on a later round.
func TestRelayCursorWaitsForOlderTransactions(t *testing.T) {
	t.Parallel()
	p, l := ledger(t)
	ctx := context.Background()
	var mu sync.Mutex
	var sent []string
	refuse := map[string]bool{}
	var during func() // runs between a round's read and its commit
	relay := func() {
		t.Helper()
		_, err := l.RelayOutbox(ctx, 10, func(_ context.Context, ms []settlement.Message) ([]string, error) {
			if during != nil {
				during()
				during = nil
			}
			mu.Lock()
			defer mu.Unlock()
			var ok []string
			for _, m := range ms {
				if refuse[m.ID] {
					delete(refuse, m.ID)
					continue
				}
				sent = append(sent, m.ID)
				ok = append(ok, m.ID)
			}
			return ok, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	create := func(id string) {
		t.Helper()
		now := time.Now().UTC()
		o := settlement.Order{ID: id, HoldID: "h" + id, Event: "ev", Fan: "f" + id, Status: settlement.Pending,
			Total: 100, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
		if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Hour),
			[]settlement.Message{{ID: "m-" + id, Topic: settlement.TopicPaymentRequested, Body: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	relay() // the first round reads from the start; later ones from the cursor
	// An open transaction takes the next seq (after its id, as every outbox writer does)...
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (message_id, topic, body) VALUES ('m-late', 'payment.requested', '{}')`); err != nil {
		t.Fatal(err)
	}
	// ...while later rows commit and go out, over several rounds.
	for i := range 5 {
		create(fmt.Sprintf("o%d", i))
		relay()
	}
	refuse["m-o5"] = true
	create("o5")
	relay()
	create("o6")
	// The old transaction commits while a round is under way, after that round's read: the next round must still
	// read from before its row.
	during = func() {
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
	}
	relay()
	if during != nil {
		t.Fatal("the round under way published nothing")
	}
	relay()
	relay()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{"m-late": true, "m-o5": true}
	for i := range 7 {
		want[fmt.Sprintf("m-o%d", i)] = true
	}
	for _, id := range sent {
		if !want[id] {
			t.Fatalf("sent %s twice or unknown: %v", id, sent)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Fatalf("never sent %v (sent %v)", want, sent)
	}
	if n, err := l.OutboxPending(ctx); err != nil || n != 0 {
		t.Fatalf("%d pending (%v)", n, err)
	}
}

// TestSeatsRoundTrip: seat names reach the row as written, whatever characters they hold.
func TestSeatsRoundTrip(t *testing.T) {
	t.Parallel()
	_, l := ledger(t)
	ctx := context.Background()
	seats := []string{"A-1", `we"ird`, `back\slash`, "a,b", "{x}", " sp ", "NULL", "ü", ""}
	now := time.Now().UTC()
	o := settlement.Order{ID: "o1", HoldID: "h1", Event: "ev", Fan: "f", Status: settlement.Pending, Seats: seats,
		Total: 100, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
	if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, err := l.Order(ctx, "o1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%q", got.Seats) != fmt.Sprintf("%q", seats) {
		t.Fatalf("seats %q, want %q", got.Seats, seats)
	}
	o.ID, o.HoldID, o.Seats = "o2", "h2", nil
	if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Order(ctx, "o2"); err != nil || len(got.Seats) != 0 {
		t.Fatalf("no seats: %q %v", got.Seats, err)
	}
}
