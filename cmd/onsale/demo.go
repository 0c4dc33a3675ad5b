package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/onsale/onsale/core"
)

// demo runs the whole system embedded, creates a sample on-sale, sends a crowd of simulated fans through
// queue → hold → checkout with a live progress line, prints a summary and keeps serving until Ctrl-C.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("onsale demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address")
	fans := fs.Int("fans", 2000, "simulated fans in the crowd")
	capacity := fs.Int("capacity", 1000, "general admission units of the sample event (plus 200 seats)")
	admit := fs.Int("admit-per-min", 30000, "fans admitted per minute")
	maxActive := fs.Int("max-active", 300, "fans shopping at once")
	arrival := fs.Duration("arrival", 2*time.Second, "the crowd arrives over this long")
	keep := fs.Bool("keep", true, "keep serving after the crowd until interrupted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fans < 1 || *capacity < 1 || *admit < 1 || *maxActive < 1 || *arrival < 0 {
		return errors.New("demo: --fans, --capacity, --admit-per-min and --max-active must be at least 1")
	}
	cfg := config{Addr: *addr, Prefix: "onsale", TokenSecret: randomHex(32), AdminToken: randomHex(16),
		Roles: allRoles, LogLevel: "warn", LogFormat: "text"}
	log := newLogger(cfg, stderr)
	sys, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer sys.close()
	srv, err := core.New(core.Config{AdminToken: cfg.AdminToken, Loops: true}, core.Deps{Inventory: sys.inv,
		Room: sys.room, Settlement: sys.settl, Catalogue: sys.cat, TestPayments: sys.testPayments(), Registerer: sys.reg, Gatherer: sys.reg, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runServer(srvCtx, cfg, log, sys, srv, ln, nil) }()
	defer func() { stopSrv(); <-served }()

	base := "http://" + ln.Addr().String()
	c := &crowd{base: base, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256}}}
	defer c.client.CloseIdleConnections()
	const event = "demo"
	ev := sampleEvent(event, *capacity, 10, 20, *admit, *maxActive)
	if st, body, err := c.call(ctx, "POST", "/v1/admin/events", ev, "Authorization", "Bearer "+cfg.AdminToken); err != nil || st != 201 {
		return fmt.Errorf("create the demo event: %d %s %v", st, body, err)
	}
	fmt.Fprintf(stdout, "onsale demo: %d fans for %d units of %q at %s\n", *fans, *capacity+200, event, base)

	start := time.Now()
	crowdCtx, stopCrowd := context.WithCancel(ctx)
	defer stopCrowd()
	done := c.run(crowdCtx, event, *fans, *arrival)
	// A terminal gets one line redrawn four times a second; a log or a pipe gets a plain line every second.
	tty := isTerminal(stdout)
	period, end := time.Second, "" // end finishes the last line drawn
	if tty {
		period, end = 250*time.Millisecond, "\n"
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
progress:
	for {
		select {
		case <-done:
			break progress
		case <-ctx.Done():
			stopCrowd()
			<-done
			break progress
		case <-tick.C:
			c.progress(ctx, stdout, sys, event, start, tty)
		}
	}
	c.progress(ctx, stdout, sys, event, start, tty)
	fmt.Fprint(stdout, end)
	c.summary(ctx, stdout, sys, event, time.Since(start))
	fmt.Fprintf(stdout, "\nwaiting room:      %s/e/%s\norganizer console: %s/admin  (token %s)\nmetrics:           %s/metrics\n",
		base, event, base, cfg.AdminToken, base)
	if *keep && ctx.Err() == nil {
		fmt.Fprintln(stdout, "serving until interrupted (Ctrl-C)")
		<-ctx.Done()
	}
	return nil
}

// sampleEvent is an on-sale of general admission and a seated section of rows×seats, open now.
func sampleEvent(id string, ga, rows, seats, admitPerMin, maxActive int) map[string]any {
	return map[string]any{"id": id, "name": "onsale demo night", "currency": "EUR", "hold_ttl_s": 120, "max_per_fan": 4,
		"sections": []any{
			map[string]any{"id": "GA", "kind": "general", "capacity": ga, "price": 4500},
			map[string]any{"id": "A", "kind": "seated", "price": 9000, "rows": seatedRows(rows, seats)}},
		"waves": []any{map[string]any{"id": "general", "starts_at": time.Now().UTC().Format(time.RFC3339Nano),
			"admit_per_min": admitPerMin, "max_active": maxActive}}}
}

// run sends n fans arriving over the arrival window; the channel closes when every fan is done.
func (c *crowd) run(ctx context.Context, event string, n int, arrival time.Duration) <-chan struct{} {
	var wg sync.WaitGroup
	for i := range n {
		delay := time.Duration(rand.Int64N(int64(arrival) + 1))
		wg.Go(func() { c.fan(ctx, event, fmt.Sprintf("fan-%05d", i), delay) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

func seatedRows(rows, seats int) []any {
	out := make([]any, rows)
	for i := range out {
		out[i] = map[string]any{"row": fmt.Sprint(i + 1), "seats": seats}
	}
	return out
}

// crowd is the simulated fans and what they went through.
type crowd struct {
	base   string
	client *http.Client

	joined, admitted, holds, paid, failed, gaveUp, errors atomic.Int64
	firstHold, lastHold                                   atomic.Int64 // unix nanos

	mu       sync.Mutex
	waits    []time.Duration // join to admission
	orders   []paidOrder
	firstErr string // the first unexpected answer, for the summary
}

// fail counts an unexpected answer and keeps the first for the summary.
func (c *crowd) fail(what string, st int, body []byte, err error) {
	c.errors.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstErr == "" {
		c.firstErr = fmt.Sprintf("%s: %d %.200s %v", what, st, body, err)
	}
}

// paidOrder is an order a fan saw paid, with the access token that reads it.
type paidOrder struct {
	ID     string   `json:"order_id"`
	HoldID string   `json:"hold_id"`
	Status string   `json:"status"`
	Seats  []string `json:"seats"`
	Items  []struct {
		Section  string `json:"section"`
		Quantity int    `json:"quantity"`
	} `json:"items"`
	Total struct {
		Amount int64 `json:"amount"`
	} `json:"total"`
	access string
}

func (c *crowd) call(ctx context.Context, method, path string, body any, hdr ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// fan is one fan: arrive, queue, shop for one to four tickets, pay, and wait for the order.
func (c *crowd) fan(ctx context.Context, event, name string, delay time.Duration) {
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return
	}
	var q struct {
		QueueToken  string `json:"queue_token"`
		State       string `json:"state"`
		PollAfterMS int    `json:"poll_after_ms"`
		AccessToken string `json:"access_token"`
	}
	joinedAt := time.Now()
	st, body, err := c.call(ctx, "POST", "/v1/events/"+event+"/queue", map[string]string{"fan": name})
	if err != nil || (st != 201 && st != 200) || json.Unmarshal(body, &q) != nil {
		c.fail("join", st, body, err)
		return
	}
	c.joined.Add(1)
	token := q.QueueToken
	for q.State != "admitted" {
		switch q.State {
		case "sold-out", "closed":
			c.gaveUp.Add(1)
			return
		}
		wait := min(time.Duration(q.PollAfterMS)*time.Millisecond, 300*time.Millisecond)
		select {
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		case <-ctx.Done():
			return
		}
		st, body, err = c.call(ctx, "GET", "/v1/events/"+event+"/queue", nil, "Queue-Token", token)
		if err != nil || st != 200 || json.Unmarshal(body, &q) != nil {
			c.fail("queue status", st, body, err)
			return
		}
		if q.QueueToken != "" {
			token = q.QueueToken
		}
	}
	c.admitted.Add(1)
	c.mu.Lock()
	c.waits = append(c.waits, time.Since(joinedAt))
	c.mu.Unlock()
	auth := []string{"Authorization", "Bearer " + q.AccessToken}

	// Most fans want general admission; some want seats side by side. A sold-out section sends them to the other.
	qty := 1 + rand.IntN(4)
	asks := []any{
		map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": qty}}},
		map[string]any{"items": []any{map[string]any{"section": "A", "quantity": min(qty, 2), "adjacent": true}}},
	}
	if rand.IntN(10) < 3 {
		asks[0], asks[1] = asks[1], asks[0]
	}
	var hold struct {
		HoldID string `json:"hold_id"`
	}
	for _, ask := range asks {
		st, body, err = c.call(ctx, "POST", "/v1/events/"+event+"/holds", ask, auth...)
		if err == nil && st == 201 && json.Unmarshal(body, &hold) == nil {
			break
		}
		hold.HoldID = ""
	}
	if hold.HoldID == "" {
		// Nothing left for this fan: leaving frees the shopping slot, so the room can let in someone else should
		// seats come back to sale (a declined payment, an expired hold).
		c.gaveUp.Add(1)
		c.call(ctx, "DELETE", "/v1/events/"+event+"/queue", nil, "Queue-Token", token)
		return
	}
	now := time.Now().UnixNano()
	c.holds.Add(1)
	c.firstHold.CompareAndSwap(0, now)
	c.lastHold.Store(now)
	method := "pm_card_visa"
	if rand.IntN(50) == 0 {
		method = "pm_card_chargeDeclined" // the odd declined card shows the seats going back to sale
	}
	var order paidOrder
	st, body, err = c.call(ctx, "POST", "/v1/holds/"+hold.HoldID+"/checkout", map[string]string{"payment_method": method}, auth...)
	if err != nil || st != 202 || json.Unmarshal(body, &order) != nil {
		c.fail("checkout", st, body, err)
		return
	}
	for order.Status != "paid" && order.Status != "failed" && order.Status != "refunded" {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		st, body, err = c.call(ctx, "GET", "/v1/orders/"+order.ID, nil, auth...)
		if err != nil || st != 200 || json.Unmarshal(body, &order) != nil {
			c.fail("order", st, body, err)
			return
		}
	}
	if order.Status != "paid" {
		c.failed.Add(1)
		c.call(ctx, "DELETE", "/v1/events/"+event+"/queue", nil, "Queue-Token", token)
		return
	}
	c.paid.Add(1)
	order.access = q.AccessToken
	c.mu.Lock()
	c.orders = append(c.orders, order)
	c.mu.Unlock()
}

// progress draws the crowd's progress: redrawn in place on a terminal, a line of its own otherwise.
func (c *crowd) progress(ctx context.Context, w io.Writer, sys *system, event string, start time.Time, tty bool) {
	sold, capacity := 0, 0
	if st, err := sys.inv.Stats(ctx, event); err == nil {
		t := st.Totals()
		sold, capacity = t.Sold, t.Capacity
	}
	line := fmt.Sprintf("%5.1fs  joined %d  admitted %d  holds %d  paid %d  sold %d/%d",
		time.Since(start).Seconds(), c.joined.Load(), c.admitted.Load(), c.holds.Load(), c.paid.Load(), sold, capacity)
	if tty {
		fmt.Fprintf(w, "\r%s   ", line)
		return
	}
	fmt.Fprintln(w, line)
}

// isTerminal reports whether w is a terminal, where a line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (c *crowd) summary(ctx context.Context, w io.Writer, sys *system, event string, took time.Duration) {
	c.mu.Lock()
	waits := slices.Clone(c.waits)
	c.mu.Unlock()
	slices.Sort(waits)
	pct := func(p float64) time.Duration {
		if len(waits) == 0 {
			return 0
		}
		return waits[min(len(waits)-1, int(p*float64(len(waits))))]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nsummary after %s\n", took.Round(time.Millisecond))
	if st, err := sys.inv.Stats(ctx, event); err == nil {
		t := st.Totals()
		fmt.Fprintf(&b, "  sold              %d of %d units (held %d, available %d), revenue %.2f EUR\n",
			t.Sold, t.Capacity, t.Held, t.Available, float64(t.Revenue)/100)
	}
	fmt.Fprintf(&b, "  fans              %d joined, %d admitted, %d paid, %d declined, %d left without tickets, %d errors\n",
		c.joined.Load(), c.admitted.Load(), c.paid.Load(), c.failed.Load(), c.gaveUp.Load(), c.errors.Load())
	if c.firstErr != "" {
		fmt.Fprintf(&b, "  first error       %s\n", c.firstErr)
	}
	fmt.Fprintf(&b, "  queue wait        p50 %s  p90 %s  p99 %s\n",
		pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
	if n, first, last := c.holds.Load(), c.firstHold.Load(), c.lastHold.Load(); n > 1 && last > first {
		fmt.Fprintf(&b, "  holds             %d at %.0f holds/s\n", n, float64(n-1)/time.Duration(last-first).Seconds())
	}
	fmt.Fprint(w, b.String())
}
