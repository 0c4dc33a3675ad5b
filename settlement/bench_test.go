package settlement_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/amqpbus"
	"github.com/onsale/onsale/settlement/pgledger"
	"github.com/onsale/onsale/settlement/testpay"
)

// benchRig is a settlement service on the real PostgreSQL and RabbitMQ with the test payment provider; every
// outcome's order id is reported on done. done holds ids, not events: the garbage collector scans a buffered
// channel whole at every cycle, and a million events would have been most of what it scanned.
type benchRig struct {
	bus   *amqpbus.Bus
	sql   *testenv.SQLCounter
	led   *pgledger.Ledger
	pay   *stampedPay
	svc   *settlement.Service
	stock *memstore.Store
	event string
	done  chan string
}

func newBenchRig(b *testing.B, workers int, opts ...func(*settlement.Options)) *benchRig {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(workers + 40)
	tr := &testenv.SQLCounter{}
	cfg.ConnConfig.Tracer = tr
	cfg.ConnConfig.RuntimeParams["application_name"] = "onsale-settle-bench" // to find its backends' CPU time
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := pgledger.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	// ONSALE_BENCH_BATCH sets the saga messages per AMQP message (1: no envelopes), ONSALE_BENCH_LINGER_MS the
	// relay's linger, ONSALE_BENCH_RELAYS the relays and ONSALE_BENCH_PREFETCH each consumer's prefetch, to
	// compare them in one build.
	bus, err := amqpbus.Dial(ctx, testenv.AMQPURL(b), amqpbus.Options{Prefix: testenv.Unique("onsale_test_"),
		RetryDelay: 50 * time.Millisecond, Batch: envInt("ONSALE_BENCH_BATCH", 0)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = bus.Teardown(context.Background())
		_ = bus.Close()
	})
	r := &benchRig{bus: bus, sql: tr, stock: memstore.New(memstore.Options{}), event: testenv.Unique("bench"), done: make(chan string, 1<<20)}
	ev := inventory.Event{ID: r.event, Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 10,
		Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 5_000_000, Price: 4500}}}
	if err := ev.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := r.stock.CreateEvent(ctx, ev); err != nil {
		b.Fatal(err)
	}
	r.pay = &stampedPay{Payments: testpay.New()}
	r.led = pgledger.New(pool)
	if err := r.led.SaveEvent(ctx, ev); err != nil { // its section's sold counter is on every paid transition
		b.Fatal(err)
	}
	so := settlement.Options{
		Workers: workers, Prefetch: envInt("ONSALE_BENCH_PREFETCH", 64), StallAfter: time.Minute, Registerer: noRegistry{},
		RelayLinger: time.Duration(envInt("ONSALE_BENCH_LINGER_MS", 0)) * time.Millisecond,
		Relays:      envInt("ONSALE_BENCH_RELAYS", 0),
		Logger:      nil,
		OnBooking:   func(_ context.Context, ev settlement.BookingEvent) { r.done <- ev.OrderID },
	}
	for _, f := range opts {
		f(&so)
	}
	r.svc = settlement.New(r.led, bus, r.pay, r.stock, so)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = r.svc.Run(runCtx) }()
	b.Cleanup(func() { cancel(); <-stopped })
	return r
}

// stampedPay remembers when each order's payment was first asked for, to split the lag in two: checkout to
// payment (outbox, relay, broker, worker) and payment to outcome (inventory, ledger, booking event).
type stampedPay struct {
	*testpay.Payments
	at sync.Map
	// onAuthorize, when set, hears every payment the saga created that waits for the fan.
	onAuthorize func(settlement.Payment)
}

func (p *stampedPay) Authorize(ctx context.Context, r settlement.PaymentRequest) (settlement.Payment, error) {
	p.at.LoadOrStore(r.OrderID, time.Now())
	out, err := p.Payments.Authorize(ctx, r)
	if err == nil && p.onAuthorize != nil && out.Status == settlement.PaymentRequiresAction {
		p.onAuthorize(out)
	}
	return out, err
}

var fanSeq atomic.Int64

// checkout holds one unit for a new fan and checks it out with the Visa test card.
func (r *benchRig) checkout(ctx context.Context) (settlement.Order, error) {
	return r.checkoutWith(ctx, "pm_card_visa")
}

// checkoutWith holds one unit for a new fan and checks it out with method (none: the fan pays in the page).
func (r *benchRig) checkoutWith(ctx context.Context, method string) (settlement.Order, error) {
	fan := "f" + strconv.FormatInt(fanSeq.Add(1), 36)
	h, err := r.stock.Hold(ctx, inventory.HoldRequest{Event: r.event, Fan: fan, Items: []inventory.Item{{Section: "GA", Quantity: 1}}})
	if err != nil {
		return settlement.Order{}, err
	}
	return r.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: fan, PaymentMethod: method})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSettleThroughput: b.N checkouts as fast as 256 goroutines can make them (ONSALE_BENCH_CLIENTS), timed
// until the last order is paid. Reports settled orders/s end to end. Each checkout waits for its group commit, so
// a few clients would cap the rate at their number ÷ a checkout's latency (32 gave ≈ 3,400/s where 256 give
// ≈ 4,700/s); an on-sale's checkouts come from thousands of fans at once, and what is measured is what the
// pipeline itself can settle.
//
//	go test -run '^$' -bench SettleThroughput -benchtime 20000x ./settlement/
func BenchmarkSettleThroughput(b *testing.B) {
	r := newBenchRig(b, envInt("ONSALE_BENCH_WORKERS", 8))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range envInt("ONSALE_BENCH_CLIENTS", 256) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := r.checkout(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkedOut := time.Since(start)
	stalled := time.NewTimer(60 * time.Second) // one timer, not one per order: the harness's CPU is in the measured figure
	for range b.N {
		select {
		case <-r.done:
			stalled.Reset(60 * time.Second)
		case <-stalled.C:
			b.Fatal("orders stopped settling")
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "orders/s")
	b.ReportMetric(float64(b.N)/checkedOut.Seconds(), "checkouts/s")
	b.ReportMetric(float64(r.sql.Stmts.Load())/float64(b.N), "pg-stmts/order")
	b.ReportMetric(float64(r.sql.Trips.Load())/float64(b.N), "pg-trips/order")
	amqpMsgs, sagaMsgs := r.bus.Published()
	b.ReportMetric(float64(amqpMsgs)/float64(b.N), "amqp-msgs/order")
	b.Logf("%d saga messages in %d AMQP messages", sagaMsgs, amqpMsgs)
	groups, stmts := r.led.GroupStats()
	b.Logf("%d orders: %d ledger writes in %d group commits, %d re-run write by write", b.N, stmts, groups, r.led.GroupFallbacks())
}

// BenchmarkSettleSteadyRate offers checkouts at a steady rate (ONSALE_BENCH_RATE per second, default 2000, for
// ONSALE_BENCH_SECONDS, default 10) and reports the lag from checkout to outcome.
//
//	go test -run '^$' -bench SettleSteadyRate -benchtime 1x ./settlement/
func BenchmarkSettleSteadyRate(b *testing.B) {
	rate, secs := envInt("ONSALE_BENCH_RATE", 2000), envInt("ONSALE_BENCH_SECONDS", 10)
	r := newBenchRig(b, envInt("ONSALE_BENCH_WORKERS", 8))
	ctx := context.Background()
	for range b.N {
		total := rate * secs
		started := sync.Map{}
		hist := hdrhistogram.New(1, 60_000_000, 3)    // µs, checkout to outcome
		toPay := hdrhistogram.New(1, 60_000_000, 3)   // µs, checkout to the payment call
		fromPay := hdrhistogram.New(1, 60_000_000, 3) // µs, payment call to outcome
		collected := make(chan struct{})
		go func() {
			defer close(collected)
			for range total {
				select {
				case id := <-r.done:
					if t0, ok := started.Load(id); ok {
						_ = hist.RecordValue(time.Since(t0.(time.Time)).Microseconds())
						if tp, ok := r.pay.at.Load(id); ok {
							_ = toPay.RecordValue(tp.(time.Time).Sub(t0.(time.Time)).Microseconds())
							_ = fromPay.RecordValue(time.Since(tp.(time.Time)).Microseconds())
						}
					}
				case <-time.After(60 * time.Second):
					return
				}
			}
		}()
		var failed atomic.Int64
		begin := time.Now()
		offered := offerAtRate(rate, total, func() {
			t0 := time.Now()
			o, err := r.checkout(ctx)
			if err != nil {
				failed.Add(1)
				return
			}
			started.Store(o.ID, t0)
		})
		<-collected
		b.ReportMetric(float64(hist.TotalCount())/time.Since(begin).Seconds(), "orders/s")
		b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50-ms")
		b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99-ms")
		b.ReportMetric(float64(hist.Max())/1000, "max-ms")
		b.Logf("rate %d/s for %ds: offered in %s, %d settled, %d checkout errors, lag p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms",
			rate, secs, offered.Round(time.Millisecond), hist.TotalCount(), failed.Load(),
			float64(hist.ValueAtQuantile(50))/1000, float64(hist.ValueAtQuantile(90))/1000,
			float64(hist.ValueAtQuantile(99))/1000, float64(hist.Max())/1000)
		b.Logf("  checkout→payment p50 %.1f ms p99 %.1f ms max %.1f ms; payment→outcome p50 %.1f ms p99 %.1f ms max %.1f ms",
			float64(toPay.ValueAtQuantile(50))/1000, float64(toPay.ValueAtQuantile(99))/1000, float64(toPay.Max())/1000,
			float64(fromPay.ValueAtQuantile(50))/1000, float64(fromPay.ValueAtQuantile(99))/1000, float64(fromPay.Max())/1000)
	}
}

// BenchmarkWebhookToPaid offers checkouts without a payment method at a steady rate (ONSALE_BENCH_RATE per
// second, default 2000, for ONSALE_BENCH_SECONDS, default 10), as fans who pay in the page: once the payment
// exists the fan confirms it and Stripe's signed webhook (payment_intent.amount_capturable_updated) arrives. It
// reports the lag from the webhook to the order paid (seats confirmed, money captured, ledger written), and the
// settled orders/s.
//
//	go test -run '^$' -bench WebhookToPaid -benchtime 1x ./settlement/
func BenchmarkWebhookToPaid(b *testing.B) {
	rate, secs := envInt("ONSALE_BENCH_RATE", 2000), envInt("ONSALE_BENCH_SECONDS", 10)
	r := newBenchRig(b, envInt("ONSALE_BENCH_WORKERS", 8), func(o *settlement.Options) { o.WebhookSecret = secret })
	r.pay.Payments.SetNotify(func(context.Context, string) {}) // the webhook tells the saga, as with Stripe
	ctx := context.Background()
	for range b.N {
		total := rate * secs
		lag := hdrhistogram.New(1, 60_000_000, 3) // µs, webhook to paid
		var mu sync.Mutex
		var failed, notPaid atomic.Int64
		authorized := make(chan settlement.Payment, total)
		var closed atomic.Bool
		var sendMu sync.Mutex
		r.pay.onAuthorize = func(p settlement.Payment) {
			sendMu.Lock()
			defer sendMu.Unlock()
			if !closed.Load() {
				authorized <- p
			}
		}
		var fans sync.WaitGroup
		for range 64 {
			fans.Add(1)
			go func() {
				defer fans.Done()
				for p := range authorized {
					if _, err := r.pay.Payments.Confirm(ctx, p.ID, "pm_card_visa"); err != nil {
						failed.Add(1)
						continue
					}
					payload, sig := stripeEvent("evt_"+p.ID, "payment_intent.amount_capturable_updated", p.ID, secret)
					t0 := time.Now()
					if err := r.svc.HandleWebhook(ctx, payload, sig); err != nil {
						failed.Add(1)
						continue
					}
					d := time.Since(t0)
					if o, err := r.led.Order(ctx, p.OrderID); err != nil || o.Status != settlement.Paid {
						notPaid.Add(1)
						continue
					}
					mu.Lock()
					_ = lag.RecordValue(d.Microseconds())
					mu.Unlock()
				}
			}()
		}
		begin := time.Now()
		offerAtRate(rate, total, func() {
			if _, err := r.checkoutWith(ctx, ""); err != nil {
				failed.Add(1)
			}
		})
		deadline := time.After(60 * time.Second)
		for done := false; !done; {
			mu.Lock()
			n := lag.TotalCount()
			mu.Unlock()
			select {
			case <-deadline:
				done = true
			case <-time.After(10 * time.Millisecond):
				done = int(n)+int(failed.Load()+notPaid.Load()) >= total
			}
		}
		el := time.Since(begin)
		sendMu.Lock()
		closed.Store(true)
		close(authorized)
		sendMu.Unlock()
		fans.Wait()
		b.ReportMetric(float64(lag.TotalCount())/el.Seconds(), "orders/s")
		b.ReportMetric(float64(lag.ValueAtQuantile(50))/1000, "p50-ms")
		b.ReportMetric(float64(lag.ValueAtQuantile(99))/1000, "p99-ms")
		b.ReportMetric(float64(lag.Max())/1000, "max-ms")
		b.Logf("rate %d/s for %ds: %d paid by webhook, %d errors, %d not paid after their webhook; webhook→paid p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms",
			rate, secs, lag.TotalCount(), failed.Load(), notPaid.Load(), float64(lag.ValueAtQuantile(50))/1000,
			float64(lag.ValueAtQuantile(90))/1000, float64(lag.ValueAtQuantile(99))/1000, float64(lag.Max())/1000)
		if failed.Load()+notPaid.Load() > 0 {
			b.Errorf("%d webhooks or checkouts failed and %d orders were not paid by their webhook", failed.Load(), notPaid.Load())
		}
	}
}

// offerAtRate calls work total times at rate calls per second, offered in 1 ms slots to a pool of goroutines so
// that a slow call does not hold the others back; it returns once every call returned, with the time taken.
func offerAtRate(rate, total int, work func()) time.Duration {
	jobs := make(chan struct{}, total)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				work()
			}
		}()
	}
	begin := time.Now()
	sent := 0
	tick := time.NewTicker(time.Millisecond)
	for sent < total {
		<-tick.C
		due := min(int(time.Since(begin).Seconds()*float64(rate)), total)
		for ; sent < due; sent++ {
			jobs <- struct{}{}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	return time.Since(begin)
}
