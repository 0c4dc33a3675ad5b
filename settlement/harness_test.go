package settlement_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/amqpbus"
	"github.com/onsale/onsale/settlement/membus"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/pgledger"
	"github.com/onsale/onsale/settlement/testpay"
)

// backend builds a ledger and a bus; every saga test runs on each.
type backend struct {
	name string
	new  func(t *testing.T, amqpURL func(testing.TB) string) (settlement.Ledger, settlement.Bus, parker)
}

// parker counts parked messages of a queue, whatever the bus.
type parker func(ctx context.Context, queue string) (int, error)

var backends = []backend{
	{name: "memory", new: func(t *testing.T, _ func(testing.TB) string) (settlement.Ledger, settlement.Bus, parker) {
		b := membus.New().WithRetryDelay(20 * time.Millisecond)
		t.Cleanup(func() { _ = b.Close() })
		return memledger.New(), b, func(_ context.Context, q string) (int, error) { return len(b.Parked(q)), nil }
	}},
	{name: "postgres+rabbitmq", new: func(t *testing.T, amqpURL func(testing.TB) string) (settlement.Ledger, settlement.Bus, parker) {
		pool := newPool(t)
		b := dialBus(t, amqpURL(t))
		return pgledger.New(pool), b, b.Parked
	}},
}

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgledger.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func dialBus(t testing.TB, u string) *amqpbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := amqpbus.Dial(ctx, u, amqpbus.Options{Prefix: testenv.Unique("onsale_test_"), RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Teardown(ctx); err != nil {
			t.Logf("teardown: %v", err)
		}
		_ = b.Close()
	})
	return b
}

// clock is the inventory's clock; tests move it forward to expire holds.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type fixture struct {
	ledger   settlement.Ledger
	bus      settlement.Bus
	parked   parker
	pay      *testpay.Payments
	stock    *memstore.Store
	clock    *clock
	event    string
	reg      *prometheus.Registry
	bookings chan settlement.BookingEvent
	svc      *settlement.Service
	stop     func() // stops svc and waits for it
	opts     settlement.Options

	mu     sync.Mutex
	orders []string // every order f.checkout made, for checkMoney
}

const secret = "whsec_test_secret"

// setup builds the ports, an event with 10,000 general admission units, and a running service.
func setup(t *testing.T, b backend, opts settlement.Options) *fixture {
	t.Helper()
	f := &fixture{pay: testpay.New(), clock: &clock{}, reg: prometheus.NewRegistry(),
		bookings: make(chan settlement.BookingEvent, 1024)}
	f.ledger, f.bus, f.parked = b.new(t, testenv.AMQPURL)
	f.stock = memstore.New(memstore.Options{Now: f.clock.Now})
	f.event = testenv.Unique("ev")
	ev := inventory.Event{ID: f.event, Name: "Test", Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 100_000,
		Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 10_000, Price: 4500}}}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := f.stock.CreateEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	opts.WebhookSecret = secret
	opts.Registerer = f.reg
	if opts.Now == nil {
		opts.Now = f.clock.Now // the saga judges holds' deadlines by the inventory's clock
	}
	if opts.StallAfter == 0 {
		opts.StallAfter = 2 * time.Second
	}
	if opts.OnBooking == nil {
		opts.OnBooking = func(_ context.Context, ev settlement.BookingEvent) { f.bookings <- ev }
	}
	f.opts = opts
	f.svc, f.stop = f.startStoppable(t, opts, f.stock)
	f.pay.SetNotify(func(ctx context.Context, pi string) {
		if err := f.svc.PaymentChanged(ctx, pi); err != nil {
			t.Logf("payment changed %s: %v", pi, err)
		}
	})
	if err := f.svc.RegisterEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return f
}

// startStoppable runs a service on the fixture's ports (with stock) until the test ends; stop ends it early and
// waits for it.
func (f *fixture) startStoppable(t *testing.T, opts settlement.Options, stock settlement.Stock) (*settlement.Service, func()) {
	t.Helper()
	svc, cancel, done := f.run(opts, stock)
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return svc, stop
}

// run starts a service; cancel ends it without waiting (it may be called from inside the service), done closes
// when Run returned.
func (f *fixture) run(opts settlement.Options, stock settlement.Stock) (*settlement.Service, context.CancelFunc, <-chan struct{}) {
	svc := settlement.New(f.ledger, f.bus, f.pay, stock, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	return svc, cancel, done
}

func (f *fixture) hold(t *testing.T, fan string, qty int) inventory.Hold {
	t.Helper()
	h, err := f.stock.Hold(context.Background(), inventory.HoldRequest{Event: f.event, Fan: fan,
		Items: []inventory.Item{{Section: "GA", Quantity: qty}}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (f *fixture) checkout(t *testing.T, fan string, qty int, method string) settlement.Order {
	t.Helper()
	h := f.hold(t, fan, qty)
	o, err := f.svc.Checkout(context.Background(), settlement.CheckoutRequest{HoldID: h.ID, Fan: fan, PaymentMethod: method})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != settlement.Pending || o.Total != int64(qty)*4500 || o.Currency != "EUR" {
		t.Fatalf("checkout = %+v", o)
	}
	f.mu.Lock()
	f.orders = append(f.orders, o.ID)
	f.mu.Unlock()
	return o
}

// checkMoney checks the payment invariants over every order f.checkout made, once they are all settled: no
// money captured without a paid order whose seats are sold, no paid order without its capture, no refund for an
// order whose hold ended before the authorization, one PaymentIntent per order at most.
func (f *fixture) checkMoney(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	ids := slices.Clone(f.orders)
	f.mu.Unlock()
	for _, id := range ids {
		o := f.await(t, id)
		pi := o.PaymentIntent
		captured, refunded := pi != "" && f.pay.Captured(pi), pi != "" && f.pay.Refunded(pi)
		switch {
		case f.pay.Intents(id) > 1:
			t.Errorf("order %s has %d payment intents", id, f.pay.Intents(id))
		case o.Status == settlement.Paid && (!captured || refunded):
			t.Errorf("paid order %s: payment %s captured %v refunded %v", id, pi, captured, refunded)
		case o.Status == settlement.Paid && f.holdState(t, o.HoldID) != inventory.Confirmed:
			t.Errorf("paid order %s: hold %s", id, f.holdState(t, o.HoldID))
		case o.Status == settlement.Failed && captured:
			t.Errorf("failed order %s: payment %s was captured", id, pi)
		case o.Status == settlement.Failed && f.holdState(t, o.HoldID) == inventory.Confirmed:
			t.Errorf("failed order %s kept its seats", id)
		case o.Status == settlement.Refunded && (!captured || !refunded):
			t.Errorf("refunded order %s: payment %s captured %v refunded %v", id, pi, captured, refunded)
		case o.FailureReason == settlement.ReasonHoldExpired && o.Status != settlement.Refunded && (captured || refunded):
			t.Errorf("order %s failed with hold-expired but its payment moved money", id)
		}
	}
}

// await waits until the order reaches a terminal status and returns it.
func (f *fixture) await(t *testing.T, id string) settlement.Order {
	t.Helper()
	return f.awaitFor(t, id, 30*time.Second)
}

func (f *fixture) awaitFor(t *testing.T, id string, d time.Duration) settlement.Order {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		o, err := f.ledger.Order(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status.Terminal() {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s after %s: %+v", id, o.Status, d, o)
		}
		<-tick.C
	}
}

// booking waits for the booking event of an order.
func (f *fixture) booking(t *testing.T, order string) settlement.BookingEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-f.bookings:
			if ev.OrderID == order {
				return ev
			}
		case <-timeout:
			t.Fatalf("no booking event for %s", order)
		}
	}
}

func (f *fixture) stats(t *testing.T) inventory.SectionStats {
	t.Helper()
	st, err := f.stock.Stats(context.Background(), f.event)
	if err != nil {
		t.Fatal(err)
	}
	return st.Totals()
}

func (f *fixture) holdState(t *testing.T, id string) inventory.State {
	t.Helper()
	h, err := f.stock.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h.State
}

// counter reads a counter (summed over labels matching want) from the fixture's registry.
func (f *fixture) counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func paymentMessage(id, order string) settlement.Message {
	body, _ := json.Marshal(map[string]string{"order_id": order})
	return settlement.Message{ID: id, Topic: settlement.TopicPaymentRequested, Body: body}
}

// lossyBus confirms but drops the first n payment requests, as a broker that lost them would.
type lossyBus struct {
	settlement.Bus
	drop atomic.Int64
}

func (b *lossyBus) Publish(ctx context.Context, msgs []settlement.Message) ([]string, error) {
	var keep []settlement.Message
	var dropped []string
	for _, m := range msgs {
		if m.Topic == settlement.TopicPaymentRequested && b.drop.Add(-1) >= 0 {
			dropped = append(dropped, m.ID)
			continue
		}
		keep = append(keep, m)
	}
	ids, err := b.Bus.Publish(ctx, keep)
	return append(ids, dropped...), err
}

// proxy is a TCP proxy between the bus and the broker that a test can cut, as a broker restart would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	cuts   atomic.Int64
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { _ = ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Add(2)
		go pipe(c, up)
		go pipe(up, c)
	}
}

// cut closes every proxied connection at once.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.cuts.Add(1)
}

// url rewrites an AMQP URL to go through the proxy.
func (p *proxy) url(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// onAuthorize scripts the provider's Authorize calls only.
func onAuthorize(p *testpay.Payments, fn func(settlement.PaymentRequest) testpay.Outcome) {
	p.Script(func(op testpay.Op, _ string, r settlement.PaymentRequest) testpay.Outcome {
		if op != testpay.OpAuthorize {
			return testpay.Outcome{}
		}
		return fn(r)
	})
}

// errKilled marks a scripted crash.
var errKilled = errors.New("worker killed")

// must(f())(t) returns f's value, failing the test on its error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var _ = fmt.Sprintf

func newMemstore() *memstore.Store { return memstore.New(memstore.Options{}) }

// noRegistry accepts every registration and keeps nothing.
type noRegistry struct{}

func (noRegistry) Register(prometheus.Collector) error  { return nil }
func (noRegistry) MustRegister(...prometheus.Collector) {}
func (noRegistry) Unregister(prometheus.Collector) bool { return true }
