package pgledger_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/pgledger"
)

// BenchmarkLedgerSaga runs the ledger's part of a settled order without the broker, the provider or the saga
// around it: checkout (order and payment request), pending→paying, paying→paid with its booking event and
// message id, and the relay removing both outbox rows; 32 orders at once, a relay running beside them as the
// service's does. It reports PostgreSQL's CPU per order (its backends' user+system time from /proc, when the
// server runs on this machine), WAL bytes per order (the server's, so run it on an otherwise idle server) and
// statements and round trips per order.
//
//	go test -run '^$' -bench LedgerSaga -benchtime 20000x ./settlement/pgledger/
func BenchmarkLedgerSaga(b *testing.B) {
	cfg, err := pgxpool.ParseConfig(testenv.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	const app = "pgledger-bench"
	cfg.MaxConns = 48
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	tr := &testenv.SQLCounter{}
	cfg.ConnConfig.Tracer = tr
	ctx := context.Background()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := pgledger.Migrate(ctx, p); err != nil {
		b.Fatal(err)
	}
	// Open every connection before counting, so their start is not counted.
	conns := make([]*pgxpool.Conn, cfg.MaxConns)
	for i := range conns {
		if conns[i], err = p.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Release()
	}
	l := pgledger.New(p)
	workers := 32
	if n, err := strconv.Atoi(os.Getenv("ONSALE_BENCH_WORKERS")); err == nil && n > 0 {
		workers = n
	}

	var relayed atomic.Int64
	stop := make(chan struct{})
	relayDone := make(chan struct{})
	publish := func(_ context.Context, ms []settlement.Message) ([]string, error) {
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		return ids, nil
	}
	go func() {
		defer close(relayDone)
		last := time.Now()
		for {
			n, err := l.RelayOutbox(ctx, 256, publish)
			if err != nil {
				b.Error(err)
				return
			}
			relayed.Add(int64(n))
			if time.Since(last) > time.Second {
				last = time.Now()
				if _, err := l.OutboxPending(ctx); err != nil {
					b.Error(err)
					return
				}
			}
			if n >= 256 {
				continue
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond): // the service's relay lingers as long after a wake
			}
		}
	}()

	cpu0, pids0 := backendCPU(ctx, b, p, app)
	var lsn0 string
	if err := p.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn0); err != nil {
		b.Fatal(err)
	}
	stmts0, trips0 := tr.Stmts.Load(), tr.Trips.Load()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := sagaOrder(ctx, l); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for deadline := time.Now().Add(30 * time.Second); relayed.Load() < 2*int64(b.N); {
		if time.Now().After(deadline) {
			b.Fatalf("relayed %d of %d outbox rows", relayed.Load(), 2*b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	close(stop)
	<-relayDone
	stmts, trips := tr.Stmts.Load()-stmts0, tr.Trips.Load()-trips0
	var wal float64
	if err := p.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)`, lsn0).Scan(&wal); err != nil {
		b.Fatal(err)
	}
	cpu1, pids1 := backendCPU(ctx, b, p, app)
	time.Sleep(time.Second) // backends report their table counts within a second
	var upd, hot int64
	if err := p.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'orders'`).Scan(&upd, &hot); err == nil {
		b.Logf("%d orders: %d order updates, %d of them HOT (no index entries)", b.N, upd, hot)
	}
	n := float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "orders/s")
	b.ReportMetric(float64(stmts)/n, "pg-stmts/order")
	b.ReportMetric(float64(trips)/n, "pg-trips/order")
	b.ReportMetric(wal/n, "wal-B/order")
	if cpu1 >= 0 && cpu0 >= 0 {
		b.ReportMetric((cpu1-cpu0).Seconds()*1e6/n, "pg-cpu-µs/order")
		if pids1 < pids0 {
			b.Logf("%d backends ended during the run: their CPU is not counted", pids0-pids1)
		}
	}
}

// sagaOrder is one order's ledger writes as the saga makes them.
func sagaOrder(ctx context.Context, l *pgledger.Ledger) error {
	id := "ord_" + randHex(10)
	now := time.Now().UTC()
	o := settlement.Order{ID: id, HoldID: "h_" + randHex(10), Event: "bench", Fan: "f" + randHex(4),
		Status: settlement.Pending, Seats: []string{},
		Lines: []inventory.Line{{Section: "GA", Quantity: 1, UnitPrice: 4500, Amount: 4500}},
		Total: 4500, Currency: "EUR", PaymentMethod: "pm_card_visa", CreatedAt: now, UpdatedAt: now}
	body, _ := json.Marshal(map[string]string{"order_id": o.ID, "hold_id": o.HoldID})
	pay := settlement.Message{ID: randHex(16), Topic: settlement.TopicPaymentRequested, Body: body}
	if _, _, err := l.CreateOrder(ctx, o, "", now.Add(time.Minute), []settlement.Message{pay}); err != nil {
		return err
	}
	if _, err := l.Transition(ctx, settlement.Transition{OrderID: id, From: []settlement.Status{settlement.Pending},
		To: settlement.Paying, PaymentKey: settlement.PaymentKey(id), Deadline: time.Now().Add(time.Minute)}); err != nil {
		return err
	}
	o.Status, o.PaymentIntent = settlement.Paid, "pi_"+randHex(12)
	booking, _ := json.Marshal(settlement.BookingEvent{Type: settlement.TopicBookingConfirmed, OrderID: o.ID,
		HoldID: o.HoldID, Event: o.Event, Fan: o.Fan, Status: o.Status, Lines: o.Lines, Total: o.Total,
		Currency: o.Currency, PaymentIntent: o.PaymentIntent, At: time.Now().UTC()})
	_, err := l.Transition(ctx, settlement.Transition{OrderID: id, From: []settlement.Status{settlement.Paying},
		To: settlement.Paid, PaymentIntent: o.PaymentIntent, MessageID: pay.ID,
		Outbox: []settlement.Message{{ID: randHex(16), Topic: settlement.TopicBookingConfirmed, Body: booking}}})
	return err
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// backendCPU sums the user and system time of the server's backends named app, read from /proc; -1 when the
// server is not on this machine.
func backendCPU(ctx context.Context, b *testing.B, p *pgxpool.Pool, app string) (time.Duration, int) {
	rows, err := p.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	var sum time.Duration
	for _, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			return -1, 0
		}
		// The fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		sum += time.Duration(ut+st) * tick
	}
	return sum, len(pids)
}
