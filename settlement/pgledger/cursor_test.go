package pgledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
)

// TestCursorUnderConcurrentGroups: with group commits finishing out of seq order, the relay reading from its cursor
// still finds every row as it commits, without the periodic read from the start.
func TestCursorUnderConcurrentGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	l := New(p)
	relay := func() int {
		n, err := l.RelayOutbox(ctx, 64, func(_ context.Context, ms []settlement.Message) ([]string, error) {
			ids := make([]string, len(ms))
			for i, m := range ms {
				ids[i] = m.ID
			}
			return ids, nil
		})
		if err != nil {
			t.Error(err)
		}
		return n
	}
	relay()
	l.cursor.mu.Lock()
	l.cursor.fullScan = time.Now().Add(time.Hour) // no read from the start during the test
	l.cursor.mu.Unlock()

	var relayed atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			relayed.Add(int64(relay()))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	const orders = 2000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= orders; i = next.Add(1) {
				id := fmt.Sprintf("o%d", i)
				now := time.Now().UTC()
				o := settlement.Order{ID: id, HoldID: "h" + id, Event: "ev", Fan: "f" + id, Status: settlement.Pending,
					Total: 1, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
				if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Hour),
					[]settlement.Message{{ID: "m" + id, Topic: settlement.TopicPaymentRequested, Body: []byte(`{}`)}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := l.Transition(ctx, settlement.Transition{OrderID: id, From: []settlement.Status{settlement.Pending},
					To: settlement.Paid, MessageID: "m" + id,
					Outbox: []settlement.Message{{ID: "b" + id, Topic: settlement.TopicBookingConfirmed, Body: []byte(`{}`)}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for deadline := time.Now().Add(5 * time.Second); relayed.Load() < 2*orders && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-stopped
	if n := relayed.Load(); n != 2*orders {
		var left int
		_ = p.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&left)
		l.cursor.mu.Lock()
		defer l.cursor.mu.Unlock()
		t.Fatalf("relayed %d of %d rows; %d left, cursor at %d", n, 2*orders, left, l.cursor.from)
	}
}
