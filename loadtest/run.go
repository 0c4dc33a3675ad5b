package loadtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runner is one run's shared state; fans are advanced by act (fan.go).
type runner struct {
	cfg     Config
	c       *client
	rec     *recorder
	sched   *scheduler[*fan]
	streams *streamer
	seats   *seatMap
	orders  *orderBook
	runID   string
	event   string
	general []SectionSpec
	seated  []SectionSpec

	checkoutTTL time.Duration // the event's: when pay_by is not in an order's answer
	pay         [payPathCount]float64

	states    [fanStateCount]atomic.Int64
	remaining atomic.Int64
	allDone   chan struct{}
	stopped   atomic.Bool

	queueTime *durationHist
	lag       *durationHist
}

func (r *runner) stopping() bool { return r.stopped.Load() }

func (r *runner) setState(f *fan, s fanState) {
	r.states[f.state].Add(-1)
	r.states[s].Add(1)
	f.state = s
}

// finish puts a fan in a final state; the run ends when every fan is final.
func (r *runner) finish(f *fan, s fanState) {
	r.setState(f, s)
	if r.remaining.Add(-1) == 0 {
		close(r.allDone)
	}
}

func (r *runner) fanName(f *fan) string { return r.runID + "-fan-" + strconv.Itoa(int(f.idx)) }

func (r *runner) eventPath(suffix string) string {
	return "/v1/events/" + url.PathEscape(r.event) + suffix
}

func (r *runner) adminPath(suffix string) string {
	return "/v1/admin/events/" + url.PathEscape(r.event) + suffix
}

func (r *runner) stateCounts() map[string]int64 {
	out := make(map[string]int64, fanStateCount)
	for i := range r.states {
		out[fanStateNames[i]] = r.states[i].Load()
	}
	return out
}

// orderBook keeps every order the fans placed, with an access token that may read it, and times how long each
// took from its checkout to being seen paid.
type orderBook struct {
	mu     sync.Mutex
	orders map[string]*bookEntry
	seq    []string
	ttp    [payPathCount]*durationHist
	ttpAll *durationHist
}

type bookEntry struct {
	OrderRecord
	token      string // the fan's access token
	orderToken string // the checkout's order_token: it reads the order for good, the door's tickets included
	path       payPath
	at         time.Time // the checkout was sent
}

func newOrderBook() *orderBook {
	b := &orderBook{orders: map[string]*bookEntry{}, ttpAll: newDurationHist()}
	for i := range b.ttp {
		b.ttp[i] = newDurationHist()
	}
	return b
}

func (b *orderBook) add(o OrderRecord, token, orderToken string, path payPath, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.orders[o.OrderID]; ok {
		return // a repeated checkout answers the same order
	}
	b.seq = append(b.seq, o.OrderID)
	b.orders[o.OrderID] = &bookEntry{OrderRecord: o, token: token, orderToken: orderToken, path: path, at: at}
}

// update takes an order's latest status, and its seats and items when the answer has them.
func (b *orderBook) update(id string, a orderAnswer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.orders[id]
	if o == nil {
		return
	}
	if a.Status == "paid" && o.Status != "paid" {
		d := time.Since(o.at)
		b.ttp[o.path].add(d)
		b.ttpAll.add(d)
	}
	if a.Status != "" {
		o.Status = a.Status
		o.FailureReason = a.FailureReason
	}
	if len(a.Seats) > 0 {
		o.Seats = a.Seats
	}
	if len(a.Items) > 0 {
		o.Sections = map[string]int{}
		o.Units = 0
		for _, it := range a.Items {
			o.Sections[it.Section] += it.Quantity
			o.Units += it.Quantity
		}
	}
}

func (b *orderBook) unsettled() (ids, tokens []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range b.seq {
		if o := b.orders[id]; !o.settled() {
			ids = append(ids, id)
			tokens = append(tokens, o.token)
		}
	}
	return ids, tokens
}

// paid lists the paid orders with a token that reads them, in checkout order.
func (b *orderBook) paid() []paidOrder {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []paidOrder
	for _, id := range b.seq {
		if o := b.orders[id]; o.Status == "paid" {
			out = append(out, paidOrder{id: id, token: cmp.Or(o.orderToken, o.token), units: o.Units})
		}
	}
	return out
}

func (b *orderBook) all() []OrderRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]OrderRecord, 0, len(b.seq))
	for _, id := range b.seq {
		out = append(out, b.orders[id].OrderRecord)
	}
	return out
}

// Run rehearses an on-sale: it sets up or finds the event, lets the fans arrive and act until all are done (or
// the configured duration or ctx ends), settles their orders, audits the sale and returns the report. Progress is
// drawn on progress (redrawn in place on a terminal, one line per period otherwise); nil draws nothing.
// A run that cannot start (bad configuration, server not answering, event not creatable) returns an error; a run
// that started returns its report even when the server failed all along.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	curve, _ := ParseCurve(cfg.Arrival, cfg.Fans, cfg.Window, cfg.Rate) // validated above
	if cfg.RunID == "" {
		cfg.RunID = "lt" + randomHex(4)
	}
	if cfg.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	rec := newRecorder()
	c, err := newClient(cfg.Base, cfg.MaxConns, cfg.Timeout, rec)
	if err != nil {
		return Report{}, err
	}
	r := &runner{cfg: cfg, c: c, rec: rec, orders: newOrderBook(), runID: cfg.RunID, checkoutTTL: cfg.CheckoutTTL,
		pay: cfg.payShares(), allDone: make(chan struct{}), queueTime: newDurationHist(), lag: newDurationHist()}

	sections, created, err := r.setup(ctx)
	if err != nil {
		return Report{}, err
	}
	for _, s := range sections {
		if s.Kind == "seated" {
			r.seated = append(r.seated, s)
		} else {
			r.general = append(r.general, s)
		}
	}
	r.seats = newSeatMap(sections)
	before, err := r.stats(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("event %s: read stats before the run: %w", r.event, err)
	}

	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	start := time.Now()
	r.sched = newScheduler[*fan](start, r.lag)
	r.streams = newStreamer(runCtx, cfg.MaxSSE)
	r.remaining.Store(int64(cfg.Fans))
	r.states[fsPending].Store(int64(cfg.Fans))
	for i := range cfg.Fans {
		f := r.newFan(i)
		r.sched.at(curve.At(i), f)
	}

	disp := newDisplay(progress, cfg, r.event)
	samples := make(chan []Sample, 1)
	sampleCtx, stopSampling := context.WithCancel(runCtx)
	go func() { samples <- r.sample(sampleCtx, start, disp) }()

	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		r.sched.dispatch(runCtx)
	}()
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		r.sched.work(cfg.Workers, r.act)
	}()

	select {
	case <-r.allDone:
	case <-runCtx.Done():
	}
	elapsed := time.Since(start)
	r.stopped.Store(true)
	stop()
	<-dispatched
	<-workersDone
	r.streams.wait()
	stopSampling()
	series := <-samples

	// Settle: orders still pending get a last look, so the audit compares final states.
	settleCtx, cancelSettle := context.WithTimeout(ctx, cfg.Settle)
	r.settle(settleCtx)
	cancelSettle()
	after, statsErr := r.stats(ctx)
	defer c.hc.CloseIdleConnections()

	rep := Report{
		Started:   start.UTC(),
		DurationS: elapsed.Seconds(),
		Base:      cfg.Base,
		Event:     r.event,
		Created:   created,
		Scenario: Scenario{Fans: cfg.Fans, Arrival: cfg.Arrival, WindowS: curve.Window.Seconds(), Rate: curve.Rate,
			Quantity: cfg.Quantity, Decline: cfg.Decline, SSE: cfg.SSE, Workers: cfg.Workers, Sections: len(sections),
			SeedUsed: cfg.Seed, RunID: cfg.RunID, CheckoutTTLS: r.checkoutTTL.Seconds(), Pay: map[string]float64{},
			Abandon: [4]float64{cfg.AbandonQueue, cfg.AbandonAdmitted, cfg.AbandonHold, cfg.AbandonCheckout}},
		Fans:      r.stateCounts(),
		Endpoints: rec.endpointReports(elapsed),
		QueueTime: r.queueTime.percentiles(),
		Lag:       r.lag.percentiles(),
		Series:    series,
	}
	for _, s := range sections {
		rep.Scenario.Capacity += s.units()
	}
	shares := cfg.payShares()
	for p, share := range shares {
		rep.Scenario.Pay[payPath(p).String()] = share
	}
	orders := r.orders.all()
	rep.Payments = paymentsReport(orders, shares, &r.orders.ttp, r.orders.ttpAll)
	rep.Problems = problemTotals(rep.Endpoints)
	for _, e := range rep.Endpoints {
		rep.Totals.Requests += e.Requests
		rep.Totals.Errors += e.Errors
	}
	if rep.Totals.Requests > 0 {
		rep.Totals.ErrorRate = float64(rep.Totals.Errors) / float64(rep.Totals.Requests)
		rep.Totals.RPS = float64(rep.Totals.Requests) / elapsed.Seconds()
	}
	rep.SellOutS = sellOut(series)
	rep.TailS = tail(series)
	rep.StallS = longestStall(series)
	if statsErr != nil {
		rep.Audit = Audit{Failures: []string{"could not read the stats after the run: " + statsErr.Error()}}
	} else {
		rep.Audit = auditSale(before, after, orders)
	}
	disp.done(rep)
	switch {
	case cfg.Door && ctx.Err() != nil:
		const why = "the run was stopped before the doors opened"
		rep.Door = &DoorReport{Gates: cfg.DoorGates, Rate: cfg.DoorRate, Notes: []string{why}, Audit: DoorAudit{Failures: []string{why}}}
	case cfg.Door:
		door, els := r.door(ctx, progress)
		rep.Door = door
		for _, e := range rec.endpointReports(0) {
			if !doorEndpoint(e.Endpoint) {
				continue
			}
			if d := els[e.Endpoint]; d > 0 {
				e.RPS = float64(e.Requests) / d.Seconds()
			}
			if e.Endpoint == EpCheckin {
				door.Latency = e.Latency
			}
			rep.Endpoints = append(rep.Endpoints, e)
		}
		rep.Problems = problemTotals(rep.Endpoints)
	}
	return rep, nil
}

// newFan draws a fan's plan from the run's seed: where it gives up, how it asks, how it pays, whether it streams.
func (r *runner) newFan(i int) *fan {
	f := &fan{idx: int32(i), rng: r.cfg.Seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15, next: stepJoin}
	cfg := r.cfg
	switch p := f.float(); {
	case p < cfg.AbandonQueue:
		f.quit = quitQueue
	case p < cfg.AbandonQueue+cfg.AbandonAdmitted:
		f.quit = quitAdmitted
	case p < cfg.AbandonQueue+cfg.AbandonAdmitted+cfg.AbandonHold:
		f.quit = quitHold
	case p < cfg.AbandonQueue+cfg.AbandonAdmitted+cfg.AbandonHold+cfg.AbandonCheckout:
		f.quit = quitCheckout
	}
	switch {
	case f.chance(cfg.MixGA):
		f.ask = askGeneral
	case f.chance(cfg.MixSeats):
		f.ask = askSeats
	default:
		f.ask = askAdjacent
	}
	f.qty = uint8(1 + f.intn(min(cfg.Quantity, 255)))
	f.pay = drawPay(f, r.pay)
	f.sse = f.chance(cfg.SSE)
	return f
}

// setup creates the run's event, or reads the one it targets, and returns its sections.
func (r *runner) setup(ctx context.Context) ([]SectionSpec, bool, error) {
	if r.cfg.Event != "" {
		r.event = r.cfg.Event
		rep := r.c.doRetry(ctx, call{ep: EpAdminEvent, method: "GET", path: r.adminPath(""), auth: r.cfg.Admin}, r.cfg.Retries)
		if !rep.ok() {
			return nil, false, fmt.Errorf("event %s: read its definition: %s", r.event, rep)
		}
		var ev struct {
			Sections     []SectionSpec `json:"sections"`
			CheckoutTTLS int           `json:"checkout_ttl_s"`
		}
		if err := json.Unmarshal(rep.body, &ev); err != nil || len(ev.Sections) == 0 {
			return nil, false, fmt.Errorf("event %s: its definition lists no sections (%v)", r.event, err)
		}
		if ev.CheckoutTTLS > 0 {
			r.checkoutTTL = time.Duration(ev.CheckoutTTLS) * time.Second
		}
		return ev.Sections, false, nil
	}
	sections, err := ParseSections(r.cfg.sectionSpec())
	if err != nil {
		return nil, false, err
	}
	r.event = r.runID + "-" + strconv.FormatInt(time.Now().Unix(), 36)
	r.checkoutTTL = r.cfg.CheckoutTTL.Truncate(time.Second)
	rep := r.createEvent(ctx, r.event, "load test "+r.runID, sections, time.Now().Add(r.cfg.OpenIn))
	if !rep.ok() {
		detail := ""
		if len(rep.body) > 0 {
			detail = ": " + string(rep.body[:min(len(rep.body), 300)])
		}
		return nil, false, fmt.Errorf("create event %s: %s%s", r.event, rep, detail)
	}
	return sections, true, nil
}

// createEvent creates an event of the run's settings with these sections, its one wave starting at opens.
func (r *runner) createEvent(ctx context.Context, id, name string, sections []SectionSpec, opens time.Time) reply {
	type wave struct {
		ID          string    `json:"id"`
		StartsAt    time.Time `json:"starts_at"`
		AdmitPerMin int       `json:"admit_per_min"`
		MaxActive   int       `json:"max_active"`
	}
	body := struct {
		ID           string        `json:"id"`
		Name         string        `json:"name"`
		Currency     string        `json:"currency"`
		HoldTTLS     int           `json:"hold_ttl_s"`
		CheckoutTTLS int           `json:"checkout_ttl_s"`
		MaxPerFan    int           `json:"max_per_fan"`
		Sections     []SectionSpec `json:"sections"`
		Waves        []wave        `json:"waves"`
	}{
		ID: id, Name: name, Currency: "EUR",
		HoldTTLS: int(r.cfg.HoldTTL / time.Second), CheckoutTTLS: int(r.cfg.CheckoutTTL / time.Second), MaxPerFan: r.cfg.MaxPerFan,
		Waves: []wave{{ID: "general", StartsAt: opens.UTC().Truncate(time.Second), AdmitPerMin: r.cfg.AdmitPerMin, MaxActive: r.cfg.MaxActive}},
	}
	for _, s := range sections {
		if s.Kind == "seated" {
			s.Capacity = 0 // a seated section's capacity is its rows' seats
		}
		body.Sections = append(body.Sections, s)
	}
	raw, _ := json.Marshal(body)
	return r.c.doRetry(ctx, call{ep: EpAdminEvent, method: "POST", path: "/v1/admin/events", body: raw, auth: r.cfg.Admin}, r.cfg.Retries)
}

// stats reads the organizer's counters once.
func (r *runner) stats(ctx context.Context) (EventStats, error) {
	rep := r.c.doRetry(ctx, call{ep: EpAdminStats, method: "GET", path: r.adminPath("/stats"), auth: r.cfg.Admin}, r.cfg.Retries)
	if !rep.ok() {
		return EventStats{}, errors.New(rep.String())
	}
	var st EventStats
	if err := r.c.decode(EpAdminStats, rep, &st); err != nil {
		return EventStats{}, err
	}
	return st, nil
}

// sample takes one Sample per period until ctx ends: the endpoints' window, the organizer's counters and the fans'
// states; and redraws the progress display.
func (r *runner) sample(ctx context.Context, start time.Time, disp *display) []Sample {
	var series []Sample
	t := time.NewTicker(r.cfg.Sample)
	defer t.Stop()
	last := start
	r.c.lastShop.Store(start.UnixNano()) // the opening is no stall
	for {
		select {
		case <-ctx.Done():
			return series
		case now := <-t.C:
			s := Sample{T: now.Sub(start).Seconds(), Endpoints: r.rec.takeWindow(), Fans: r.stateCounts()}
			quiet := now.Sub(time.Unix(0, r.c.lastShop.Load())) >= quietShoppers
			for ep, w := range s.Endpoints {
				if ep != EpAdminStats {
					s.Requests += w.Requests
				}
			}
			s.RPS = float64(s.Requests) / now.Sub(last).Seconds()
			last = now
			statsCtx, cancel := context.WithTimeout(ctx, r.cfg.Sample)
			rep := r.c.doRetry(statsCtx, call{ep: EpAdminStats, method: "GET", path: r.adminPath("/stats"), auth: r.cfg.Admin}, 0)
			cancel()
			if rep.ok() {
				var st EventStats
				if r.c.decode(EpAdminStats, rep, &st) == nil {
					s.Stats = &st
					s.Stalled = quiet && st.Queued > 0 && st.Available > 0
				}
			}
			series = append(series, s)
			req, errs := r.rec.totals()
			disp.draw(s, req, errs, r.lag.percentiles().P99, r.sched.pending())
		}
	}
}

// quietShoppers is how long every admitted fan must have made no call for a waiting crowd beside buyable units to
// count as a stall: shoppers who are still calling may well be about to buy those units.
const quietShoppers = 20 * time.Second

// longestStall is the longest time fans waited while units were buyable and every shopper had been quiet for
// quietShoppers: from a stalled sample to the next sample that is not.
func longestStall(series []Sample) float64 {
	var longest float64
	from := -1.0
	for _, s := range series {
		switch {
		case s.Stalled && from < 0:
			from = s.T
		case !s.Stalled && from >= 0:
			longest = max(longest, s.T-from)
			from = -1
		}
	}
	if from >= 0 && len(series) > 0 {
		longest = max(longest, series[len(series)-1].T-from)
	}
	return longest
}

// tail is the time from the first sample with few units left (at most a twentieth of the capacity, and at least
// one, not sold) to the sale's end: sold out, or nobody waiting any more; nil when few were never left.
func tail(series []Sample) *float64 {
	from := -1.0
	for _, s := range series {
		st := s.Stats
		if st == nil || st.Capacity <= 0 {
			continue
		}
		left := st.Capacity - st.Sold
		if from < 0 && left <= max(1, st.Capacity/20) {
			from = s.T
		}
		if from >= 0 && (left <= 0 || st.Queued == 0) {
			d := s.T - from
			return &d
		}
	}
	if from >= 0 && len(series) > 0 {
		d := series[len(series)-1].T - from
		return &d
	}
	return nil
}

// sellOut is the time of the first sample whose counters show every unit sold.
func sellOut(series []Sample) *float64 {
	for _, s := range series {
		if s.Stats != nil && s.Stats.Capacity > 0 && s.Stats.Sold >= s.Stats.Capacity {
			t := s.T
			return &t
		}
	}
	return nil
}

// settle polls the orders not yet settled until they are, or ctx ends.
func (r *runner) settle(ctx context.Context) {
	for {
		ids, tokens := r.orders.unsettled()
		if len(ids) == 0 {
			return
		}
		for i, id := range ids {
			rep := r.c.do(call{ep: EpOrder, method: "GET", path: "/v1/orders/" + url.PathEscape(id), auth: tokens[i]})
			var o orderAnswer
			if rep.ok() && json.Unmarshal(rep.body, &o) == nil {
				r.orders.update(id, o)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.OrderPoll):
		}
	}
}

// Execute runs the load test the configuration describes, draws its progress and prints its summary, writes the
// reports it asks for, and checks the budget: a missed budget returns an error wrapping ErrBudget (the binary's exit
// status 1). Progress and summary go to stdout, or to stderr when the JSON report goes to stdout (-json -), so the
// JSON stays readable by a pipe. The budget is read before the run, so a broken budget file costs no run.
func Execute(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	var budget *Budget
	if cfg.BudgetPath != "" {
		b, err := LoadBudget(cfg.BudgetPath)
		if err != nil {
			return err
		}
		budget = &b
	}
	console := stdout
	if cfg.JSONOut == "-" {
		console = stderr
	}
	rep, err := Run(ctx, cfg, console)
	if err != nil {
		return err
	}
	if budget != nil {
		rep.Budget = budget
		rep.Violations = rep.Check(*budget)
	}
	fmt.Fprint(console, rep.Summary())
	if err := writeFile(cfg.JSONOut, stdout, rep.WriteJSON); err != nil {
		return err
	}
	if err := writeFile(cfg.HTMLOut, stdout, rep.WriteHTML); err != nil {
		return err
	}
	if n := len(rep.Violations); n > 0 {
		return fmt.Errorf("%w: %d thresholds (first: %s)", ErrBudget, n, rep.Violations[0])
	}
	if a := rep.Audit; a.Checked && !a.Passed {
		return fmt.Errorf("%w: %d failures (first: %s)", ErrAudit, len(a.Failures), first(a.Failures))
	}
	if d := rep.Door; d != nil && d.Audit.Checked && !d.Audit.Passed {
		return fmt.Errorf("%w: the door: %d failures (first: %s)", ErrAudit, len(d.Audit.Failures), first(d.Audit.Failures))
	}
	return nil
}

func first(failures []string) string {
	if len(failures) == 0 {
		return "none listed"
	}
	return failures[0]
}

func writeFile(path string, stdout io.Writer, write func(io.Writer) error) error {
	switch path {
	case "":
		return nil
	case "-":
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
