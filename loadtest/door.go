package loadtest

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The door phase: once the sale is over and its payments settled, the organizer refunds a share of the paid
// orders, the generator reads every paid order's tickets with its order token, and gates scan them at a steady
// rate, with the scans a stadium's doors see besides honest ones: tickets shown twice, exits and re-entries,
// forged codes, another event's ticket, refunded tickets, and scanners sending a scan again with its nonce.

// maxGates bounds -door-gates.
const maxGates = 64

// scanKind is what a scan at the door tests, and so the answer it must get.
type scanKind uint8

const (
	scanEntry   scanKind = iota // a valid ticket's first entry: ok
	scanSecond                  // the same ticket again while inside, at the same or another gate: already-used
	scanExit                    // going out: ok
	scanReentry                 // back in after the exit: ok
	scanRevoked                 // a ticket of an order refunded before the doors opened: revoked
	scanForged                  // a forged code (a flipped byte, truncated, junk): invalid
	scanOther                   // a valid ticket of another event: wrong-event
	scanReplay                  // an earlier scan sent again with its nonce: that scan's answer, replayed
	scanKindCount
)

var scanKindNames = [scanKindCount]string{"entry", "second", "exit", "reentry", "revoked", "forged", "other-event", "replay"}

func (k scanKind) String() string { return scanKindNames[k] }

// expect is the result a scan of this kind must get; a replay must get its original's, marked replayed.
func (k scanKind) expect() string {
	switch k {
	case scanSecond:
		return "already-used"
	case scanRevoked:
		return "revoked"
	case scanForged:
		return "invalid"
	case scanOther:
		return "wrong-event"
	case scanReplay:
		return "replayed"
	}
	return "ok"
}

// doorScan is one planned scan and, once sent, its answer.
type doorScan struct {
	kind      scanKind
	ticket    string // the ticket it shows; "" for forged codes and another event's
	code      string
	nonce     string
	gate      string
	direction string // entry or exit
	of        int    // a replay: the index of the scan it repeats, in the same visitor's scans

	sent     bool
	status   int    // HTTP status; 0 when no answer came
	problem  string // the problem type, or why no answer came
	result   string
	answered string     // the answer's ticket_id
	first    *time.Time // the answer's first_entry_at
	replayed bool
}

// visitor is one code's holder at the door: a ticket's, with its scans in order (the entry, perhaps a second scan,
// an exit and a re-entry, and replays), or a forger's with one code. Like a fan, it is advanced one scan at a time
// by whichever worker holds it, so it needs no lock.
type visitor struct {
	rng   uint64
	scans []doorScan
	next  int
}

func (v *visitor) float() float64 { return float64(splitmix64(&v.rng)>>11) / (1 << 53) }

// doorTicket is a ticket of a paid order, as read before the doors opened.
type doorTicket struct {
	id, code, status, order string
	revoked                 bool // its order was refunded
}

// doorMix is how the visitors behave, from the configuration.
type doorMix struct {
	gates                          int
	twice, forged, reentry, replay float64
	seed                           uint64
	nonce                          string // prefix of the phase's nonces, unique to the phase
	other                          string // a valid code of another event; "" when there is none
}

// shareOf is how many of n a share picks: none for a zero share, else at least one, so that a small run still
// sees every kind of scan asked for.
func shareOf(share float64, n int) int {
	if share <= 0 || n <= 0 {
		return 0
	}
	return min(n, max(1, int(math.Round(share*float64(n)))))
}

// pickN returns k distinct indices of [0, n), drawn from rng.
func pickN(rng *uint64, k, n int) map[int]bool {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	out := make(map[int]bool, k)
	for i := range min(k, n) {
		j := i + int(splitmix64(rng)%uint64(n-i))
		idx[i], idx[j] = idx[j], idx[i]
		out[idx[i]] = true
	}
	return out
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// flipByte changes one character of a compact JWS's payload or signature to another base64url character. The
// last character of a segment is spared: some of its bits may be padding, which a decoder may ignore.
func flipByte(code string, rng *uint64) string {
	var at []int
	segStart := 0
	for i := 0; i <= len(code); i++ {
		if i == len(code) || code[i] == '.' {
			if segStart > 0 { // the payload and the signature, not the header
				for j := segStart; j < i-1; j++ {
					at = append(at, j)
				}
			}
			segStart = i + 1
		}
	}
	if len(at) == 0 {
		return code + "A" // not a JWS: changed all the same
	}
	i := at[splitmix64(rng)%uint64(len(at))]
	c := strings.IndexByte(b64url, code[i])
	b := []byte(code)
	b[i] = b64url[(max(c, 0)+1+int(splitmix64(rng)%63))%64]
	return string(b)
}

// truncate cuts a code short, anywhere but at its very start.
func truncate(code string, rng *uint64) string {
	if len(code) < 2 {
		return ""
	}
	return code[:1+int(splitmix64(rng)%uint64(len(code)-1))]
}

// junk is a random code: printable characters, or three random base64url segments shaped like a JWS.
func junk(rng *uint64) string {
	n := 16 + int(splitmix64(rng)%200)
	b := make([]byte, n)
	if splitmix64(rng)%2 == 0 {
		for i := range b {
			b[i] = byte(0x21 + splitmix64(rng)%94)
		}
		return string(b)
	}
	for i := range b {
		b[i] = byte(splitmix64(rng))
	}
	return base64.RawURLEncoding.EncodeToString(b[:n/4]) + "." + base64.RawURLEncoding.EncodeToString(b[n/4:n/2]) + "." +
		base64.RawURLEncoding.EncodeToString(b[n/2:])
}

// planDoor draws who scans what: a visitor per ticket and one per forged code, in a random order. A valid ticket
// enters at its gate; -door-twice of them are shown again while inside, at any gate; -door-reentry of them go out
// and come back in; a refunded order's ticket is shown once. Forged codes are cycled through a flipped byte, a
// truncated code, junk and, when there is one, another event's ticket. -door-replay of all these scans are sent
// again with their nonce right after their answer.
func planDoor(tickets []doorTicket, m doorMix) []*visitor {
	rng := m.seed ^ 0xd00d
	gate := func() string { return "gate-" + strconv.Itoa(1+int(splitmix64(&rng)%uint64(m.gates))) }
	var valid []int
	for i, t := range tickets {
		if !t.revoked {
			valid = append(valid, i)
		}
	}
	twice := pickN(&rng, shareOf(m.twice, len(valid)), len(valid))
	reentry := pickN(&rng, shareOf(m.reentry, len(valid)), len(valid))
	var vs []*visitor
	for vi, ti := range valid {
		t := tickets[ti]
		g := gate()
		v := &visitor{scans: []doorScan{{kind: scanEntry, ticket: t.id, code: t.code, gate: g, direction: "entry"}}}
		if twice[vi] {
			v.scans = append(v.scans, doorScan{kind: scanSecond, ticket: t.id, code: t.code, gate: gate(), direction: "entry"})
		}
		if reentry[vi] {
			v.scans = append(v.scans, doorScan{kind: scanExit, ticket: t.id, code: t.code, gate: gate(), direction: "exit"},
				doorScan{kind: scanReentry, ticket: t.id, code: t.code, gate: gate(), direction: "entry"})
		}
		vs = append(vs, v)
	}
	for _, t := range tickets {
		if t.revoked {
			vs = append(vs, &visitor{scans: []doorScan{{kind: scanRevoked, ticket: t.id, code: t.code, gate: gate(), direction: "entry"}}})
		}
	}
	variants := 3
	if m.other != "" {
		variants = 4
	}
	for i := range shareOf(m.forged, len(valid)) {
		s := doorScan{kind: scanForged, gate: gate(), direction: "entry"}
		base := tickets[valid[splitmix64(&rng)%uint64(len(valid))]].code
		switch i % variants {
		case 0:
			s.code = flipByte(base, &rng)
		case 1:
			s.code = truncate(base, &rng)
		case 2:
			s.code = junk(&rng)
		default:
			s.kind, s.code = scanOther, m.other
		}
		vs = append(vs, &visitor{scans: []doorScan{s}})
	}

	// Replays, then the order of arrival and the nonces.
	total := 0
	for _, v := range vs {
		total += len(v.scans)
	}
	replay := pickN(&rng, shareOf(m.replay, total), total)
	n := 0
	for _, v := range vs {
		var scans []doorScan
		for _, s := range v.scans {
			scans = append(scans, s)
			if replay[n] {
				r := s
				r.kind, r.of = scanReplay, len(scans)-1
				scans = append(scans, r)
			}
			n++
		}
		v.scans = scans
	}
	for i := len(vs) - 1; i > 0; i-- {
		j := int(splitmix64(&rng) % uint64(i+1))
		vs[i], vs[j] = vs[j], vs[i]
	}
	for i, v := range vs {
		v.rng = m.seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15
		for j := range v.scans {
			if v.scans[j].kind == scanReplay {
				v.scans[j].nonce = v.scans[v.scans[j].of].nonce
				continue
			}
			v.scans[j].nonce = m.nonce + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
		}
	}
	return vs
}

// judge says whether scan i of v got the answer its code calls for, and if not, what it got.
func judge(v *visitor, i int) (bool, string) {
	s := v.scans[i]
	switch {
	case !s.sent:
		return false, "not sent before the door phase ended"
	case s.status != 200:
		return false, "no verdict: " + cmp.Or(s.problem, "status "+strconv.Itoa(s.status))
	case s.result == "":
		return false, "an answer without a result"
	}
	if s.kind == scanReplay {
		o := v.scans[s.of]
		switch {
		case !s.replayed:
			return false, fmt.Sprintf("%s, not marked replayed", s.result)
		case s.result != o.result || s.answered != o.answered:
			return false, fmt.Sprintf("%s for %q, the first answer was %s for %q", s.result, s.answered, o.result, o.answered)
		}
		return true, ""
	}
	switch {
	case s.replayed:
		return false, s.result + " marked replayed, for a fresh nonce"
	case s.result != s.kind.expect():
		return false, s.result
	case s.ticket != "" && s.answered != "" && s.answered != s.ticket:
		return false, fmt.Sprintf("%s for ticket %s", s.result, s.answered)
	}
	return true, ""
}

// DoorClass is one kind of scan: how many were sent, the answer each must get, and the answers they got.
type DoorClass struct {
	Class      string           `json:"class"`  // entry, second, exit, reentry, revoked, forged, other-event, replay
	Expect     string           `json:"expect"` // a result; "replayed" for replays: the first answer, marked replayed
	Scans      int64            `json:"scans"`
	Got        map[string]int64 `json:"got"`        // by result; a scan without a verdict by its problem, "not-sent" if never sent
	Unexpected int64            `json:"unexpected"` // scans that did not get what they must
}

// doorClasses counts the scans by kind and answer.
func doorClasses(vs []*visitor) []DoorClass {
	var out [scanKindCount]DoorClass
	for k := range scanKindCount {
		out[k] = DoorClass{Class: k.String(), Expect: k.expect(), Got: map[string]int64{}}
	}
	for _, v := range vs {
		for i, s := range v.scans {
			c := &out[s.kind]
			c.Scans++
			switch {
			case !s.sent:
				c.Got["not-sent"]++
			case s.status != 200:
				c.Got[cmp.Or(s.problem, "status-"+strconv.Itoa(s.status))]++
			default:
				c.Got[s.result]++
			}
			if ok, _ := judge(v, i); !ok {
				c.Unexpected++
			}
		}
	}
	var list []DoorClass
	for _, c := range out {
		if c.Scans > 0 {
			list = append(list, c)
		}
	}
	return list
}

// DoorReport is the door phase: what was scanned, how fast, what the door answered, and its audit.
type DoorReport struct {
	Gates      int                `json:"gates"`
	Rate       float64            `json:"rate"`   // scans per second asked for, over all gates
	Shares     map[string]float64 `json:"shares"` // the mix as configured: twice, forged, revoked, reentry, replay
	PaidOrders int                `json:"paid_orders"`
	Refunded   int                `json:"refunded"` // orders refunded by the organizer before the doors opened
	Tickets    int                `json:"tickets"`  // tickets read from the paid orders
	OtherEvent string             `json:"other_event,omitempty"`
	Scans      int64              `json:"scans"`      // sent
	CollectS   float64            `json:"collect_s"`  // refunds and reading the tickets
	DurationS  float64            `json:"duration_s"` // from the doors opening to the last answer
	ScansPerS  float64            `json:"scans_per_s"`
	Latency    Percentiles        `json:"latency_ms"` // of checkin
	Lag        Percentiles        `json:"lag_ms"`     // how late scans were sent
	Classes    []DoorClass        `json:"classes"`
	Notes      []string           `json:"notes,omitempty"` // what the phase left out, and why
	Audit      DoorAudit          `json:"audit"`
}

type (
	checkinBody struct {
		Code      string `json:"code"`
		Nonce     string `json:"nonce"`
		Gate      string `json:"gate"`
		Direction string `json:"direction"`
	}
	checkinAnswer struct {
		Result       string     `json:"result"`
		TicketID     string     `json:"ticket_id"`
		FirstEntryAt *time.Time `json:"first_entry_at"`
		Replayed     bool       `json:"replayed"`
	}
	ticketAnswer struct {
		TicketID string `json:"ticket_id"`
		Status   string `json:"status"`
		Code     string `json:"code"`
	}
	ticketsAnswer struct {
		Status  string         `json:"status"`
		Tickets []ticketAnswer `json:"tickets"`
	}
)

// paidOrder is a paid order the door reads the tickets of.
type paidOrder struct {
	id, token string
	units     int
}

// doorRun is the door phase's state.
type doorRun struct {
	r         *runner
	cfg       Config
	sched     *scheduler[*visitor]
	window    time.Duration // the scans at the asked rate take this long
	remaining atomic.Int64
	sent      atomic.Int64
	allDone   chan struct{}
	lag       *durationHist
}

// door runs the door phase after the sale and returns its report, and how long each of its endpoints was in use
// (their rates are over that). Failures of the setup (a refund refused, tickets that cannot be read) fail its
// audit, as wrong verdicts do.
func (r *runner) door(ctx context.Context, progress io.Writer) (*DoorReport, map[Endpoint]time.Duration) {
	cfg := r.cfg
	rep := &DoorReport{Gates: cfg.DoorGates, Rate: cfg.DoorRate,
		Shares: map[string]float64{"twice": cfg.DoorTwice, "forged": cfg.DoorForged, "revoked": cfg.DoorRevoked,
			"reentry": cfg.DoorReentry, "replay": cfg.DoorReplay}}
	collectStart := time.Now()

	// Another event's ticket, bought meanwhile, for the wrong-event codes.
	type otherCode struct {
		event, code string
		err         error
	}
	other := make(chan otherCode, 1)
	switch {
	case cfg.DoorForged == 0:
		other <- otherCode{}
	case cfg.Event != "":
		other <- otherCode{err: errors.New("a run on an existing event creates none")}
	default:
		go func() {
			ev, code, err := r.buyOther(ctx)
			other <- otherCode{ev, code, err}
		}()
	}

	orders := r.orders.paid()
	rep.PaidOrders = len(orders)
	if len(orders) == 0 {
		rep.Notes = append(rep.Notes, "no paid orders: no ticket to scan")
	}
	rng := cfg.Seed ^ 0x7e7
	revoke := pickN(&rng, shareOf(cfg.DoorRevoked, len(orders)), len(orders))
	tickets, refunded, failures := r.collectTickets(ctx, orders, revoke)
	rep.Tickets, rep.Refunded = len(tickets), refunded
	oc := <-other
	if oc.err != nil {
		rep.Notes = append(rep.Notes, "no code of another event: "+oc.err.Error())
	} else {
		rep.OtherEvent = oc.event
	}
	collected := time.Since(collectStart)
	rep.CollectS = collected.Seconds()
	els := map[Endpoint]time.Duration{EpRefund: collected, EpTickets: collected}

	before, err := r.stats(ctx)
	if err != nil {
		rep.Audit = DoorAudit{Failures: append(failures, "could not read the stats before the doors opened: "+err.Error())}
		return rep, els
	}
	vs := planDoor(tickets, doorMix{gates: cfg.DoorGates, twice: cfg.DoorTwice, forged: cfg.DoorForged,
		reentry: cfg.DoorReentry, replay: cfg.DoorReplay, seed: cfg.Seed, nonce: r.runID + "-" + randomHex(4), other: oc.code})
	scans := 0
	for _, v := range vs {
		scans += len(v.scans)
	}
	if progress != nil {
		fmt.Fprintf(progress, "door: %d tickets of %d paid orders (%d refunded), %d scans through %d gates at %.0f/s\n",
			len(tickets), len(orders), rep.Refunded, scans, cfg.DoorGates, cfg.DoorRate)
	}

	d := &doorRun{r: r, cfg: cfg, allDone: make(chan struct{}), lag: newDurationHist(),
		window: max(time.Duration(float64(scans)/cfg.DoorRate*float64(time.Second)), time.Microsecond)}
	start := time.Now()
	d.sched = newScheduler[*visitor](start, d.lag)
	d.remaining.Store(int64(len(vs)))
	if len(vs) == 0 {
		close(d.allDone)
	}
	// Holders arrive at a steady rate over the window, and their later scans fall in the rest of it, so that all
	// the scans together come at the rate asked for.
	if curve, err := ParseCurve("steady", len(vs), d.window, 0); err == nil {
		for i, v := range vs {
			d.sched.at(curve.At(i), v)
		}
	}
	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		d.sched.dispatch(runCtx)
	}()
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		d.sched.work(cfg.Workers, d.act)
	}()
	d.wait(runCtx, progress, scans)
	elapsed := time.Since(start)
	stop()
	<-dispatched
	<-worked
	rep.DurationS = elapsed.Seconds()
	els[EpCheckin] = elapsed
	for _, v := range vs {
		for _, s := range v.scans {
			if s.sent {
				rep.Scans++
			}
		}
	}
	if elapsed > 0 {
		rep.ScansPerS = float64(rep.Scans) / elapsed.Seconds()
	}
	rep.Lag = d.lag.percentiles()
	rep.Classes = doorClasses(vs)

	after, err := r.stats(ctx)
	if err != nil {
		rep.Audit = DoorAudit{Failures: append(failures, "could not read the stats after the doors closed: "+err.Error())}
		return rep, els
	}
	rep.Audit = auditDoor(vs, before, after, failures)
	return rep, els
}

// wait returns when every visitor is done or ctx ends, with a line of progress every display period meanwhile.
func (d *doorRun) wait(ctx context.Context, progress io.Writer, scans int) {
	var tick <-chan time.Time
	if progress != nil {
		t := time.NewTicker(d.cfg.DisplayPeriod)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-d.allDone:
			return
		case <-ctx.Done():
			return
		case <-tick:
			fmt.Fprintf(progress, "door: t=%.0fs  %d of %d scans sent  lag p99 %.1f ms\n", d.sched.now().Seconds(), d.sent.Load(), scans,
				d.lag.percentiles().P99)
		}
	}
}

// act sends a visitor's next scan and schedules the one after, if any: a replay at once, as a scanner that lost
// the answer would, any other at a random time in what is left of the window.
func (d *doorRun) act(v *visitor) {
	s := &v.scans[v.next]
	body, _ := json.Marshal(checkinBody{Code: s.code, Nonce: s.nonce, Gate: s.gate, Direction: s.direction})
	rep := d.r.c.do(call{ep: EpCheckin, method: "POST", path: d.r.eventPath("/checkin"), body: body, auth: d.cfg.Admin})
	s.sent, s.status, s.problem = true, rep.status, rep.problem
	d.sent.Add(1)
	if rep.ok() {
		var a checkinAnswer
		if d.r.c.decode(EpCheckin, rep, &a) != nil {
			s.problem = ProblemUndecoded
		} else {
			s.result, s.answered, s.first, s.replayed = a.Result, a.TicketID, a.FirstEntryAt, a.Replayed
		}
	}
	v.next++
	if v.next == len(v.scans) {
		if d.remaining.Add(-1) == 0 {
			close(d.allDone)
		}
		return
	}
	now := d.sched.now()
	at := now
	if left := d.window - now; left > 0 && v.scans[v.next].kind != scanReplay {
		at += time.Duration(v.float() * float64(left))
	}
	d.sched.at(at, v)
}

// collectTickets has the orders picked refunded by the organizer, then reads every paid order's tickets with its
// order token, a bounded number at a time, until each refunded order shows refunded (or -settle ends). It returns
// the tickets and what went wrong: a refund refused, an order that could not be read, never showed refunded,
// whose tickets do not match its units, or a ticket whose status is not what its order calls for.
func (r *runner) collectTickets(ctx context.Context, orders []paidOrder, revoke map[int]bool) (tickets []doorTicket, refunded int, failures []string) {
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	workers := min(r.cfg.Workers, 64)
	var refunds []int
	for i := range orders {
		if revoke[i] {
			refunds = append(refunds, i)
		}
	}
	skip := make([]bool, len(orders))
	forEach(len(refunds), workers, func(j int) {
		o := orders[refunds[j]]
		if ctx.Err() != nil {
			fail("the refund of order %s was not asked: the run was stopped", o.id)
			skip[refunds[j]] = true
			return
		}
		rep := r.c.doRetry(ctx, call{ep: EpRefund, method: "POST", path: "/v1/admin/orders/" + url.PathEscape(o.id) + "/refund",
			auth: r.cfg.Admin}, r.cfg.Retries)
		if !rep.ok() {
			fail("the refund of order %s was refused: %s", o.id, rep)
			skip[refunds[j]] = true // its tickets' state is unknown: not scanned
		}
	})

	got := make([][]doorTicket, len(orders))
	done := make([]bool, len(orders))
	pending := make([]int, 0, len(orders))
	for i := range orders {
		if !skip[i] {
			pending = append(pending, i)
			if revoke[i] {
				refunded++
			}
		}
	}
	last := make([]string, len(orders)) // why each pending order is not done yet
	deadline := time.Now().Add(r.cfg.Settle)
	for len(pending) > 0 {
		var still []int
		var smu sync.Mutex
		forEach(len(pending), workers, func(j int) {
			i := pending[j]
			o := orders[i]
			if ctx.Err() != nil {
				last[i] = "was not read: the run was stopped"
				smu.Lock()
				still = append(still, i)
				smu.Unlock()
				return
			}
			rep := r.c.doRetry(ctx, call{ep: EpTickets, method: "GET", path: "/v1/orders/" + url.PathEscape(o.id), auth: o.token}, r.cfg.Retries)
			var a ticketsAnswer
			switch {
			case !rep.ok():
				last[i] = "could not be read: " + rep.String()
			case r.c.decode(EpTickets, rep, &a) != nil:
				last[i] = "answered what could not be read"
			case revoke[i] && a.Status != "refunded":
				last[i] = "is " + a.Status + ", not refunded"
			default:
				done[i] = true
				for _, t := range a.Tickets {
					got[i] = append(got[i], doorTicket{id: t.TicketID, code: t.Code, status: t.Status, order: o.id, revoked: revoke[i]})
				}
			}
			if !done[i] {
				smu.Lock()
				still = append(still, i)
				smu.Unlock()
			}
		})
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.OrderPoll):
		}
	}
	for _, i := range pending {
		fail("order %s %s after %s", orders[i].id, last[i], r.cfg.Settle)
	}

	for i, ts := range got {
		o := orders[i]
		if !done[i] {
			continue
		}
		if o.units > 0 && len(ts) != o.units {
			fail("order %s has %d tickets for %d units", o.id, len(ts), o.units)
		}
		for _, t := range ts {
			want := "valid"
			if t.revoked {
				want = "revoked"
			}
			if t.status != want {
				fail("ticket %s of order %s is %q before the doors open, want %s", t.id, o.id, t.status, want)
			}
			if t.code == "" {
				if !t.revoked {
					fail("ticket %s of order %s has no code", t.id, o.id)
				}
				continue
			}
			tickets = append(tickets, t)
		}
	}
	return tickets, refunded, failures
}

// forEach calls f(0) … f(n-1) on at most workers goroutines and returns when all are done.
func forEach(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, max(workers, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// buyOther buys one general-admission ticket of a new one-unit event, the way a fan does with a card the server
// confirms, and returns the event and the ticket's code: a code that verifies, but for another event.
func (r *runner) buyOther(ctx context.Context) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle+10*time.Second)
	defer cancel()
	ev := r.event + "-other"
	path := func(suffix string) string { return "/v1/events/" + url.PathEscape(ev) + suffix }
	if rep := r.createEvent(ctx, ev, "load test "+r.runID+" (another event)", []SectionSpec{{ID: "GA", Kind: "general", Capacity: 1, Price: 4500}},
		time.Now()); !rep.ok() {
		return "", "", fmt.Errorf("create event %s: %s", ev, rep)
	}
	body, _ := json.Marshal(joinBody{Fan: r.runID + "-door"})
	rep := r.c.doRetry(ctx, call{ep: EpJoin, method: "POST", path: path("/queue"), body: body}, r.cfg.Retries)
	var st queueStatus
	if !rep.ok() || json.Unmarshal(rep.body, &st) != nil || st.QueueToken == "" {
		return "", "", fmt.Errorf("join %s: %s", ev, rep)
	}
	for st.AccessToken == "" {
		if st.State != "admitted" && st.State != "waiting" && st.State != "prequeue" {
			return "", "", fmt.Errorf("queue of %s: %s", ev, st.State)
		}
		wait := min(max(time.Duration(st.PollAfterMs)*time.Millisecond, 10*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("queue of %s: not admitted in time", ev)
		case <-time.After(wait):
		}
		token := st.QueueToken
		rep = r.c.doRetry(ctx, call{ep: EpPoll, method: "GET", path: path("/queue"), queueToken: token}, r.cfg.Retries)
		st = queueStatus{}
		if !rep.ok() || json.Unmarshal(rep.body, &st) != nil {
			return "", "", fmt.Errorf("queue of %s: %s", ev, rep)
		}
		st.QueueToken = token
	}
	body, _ = json.Marshal(holdBody{Items: []holdItem{{Section: "GA", Quantity: 1}}})
	idem := r.runID + "-door-" + randomHex(4)
	rep = r.c.doRetry(ctx, call{ep: EpHold, method: "POST", path: path("/holds"), body: body, auth: st.AccessToken, idemKey: idem + "-hold"}, r.cfg.Retries)
	var h holdAnswer
	if !rep.ok() || json.Unmarshal(rep.body, &h) != nil || h.HoldID == "" {
		return "", "", fmt.Errorf("hold in %s: %s", ev, rep)
	}
	body, _ = json.Marshal(checkoutBody{PaymentMethod: cardOK})
	rep = r.c.doRetry(ctx, call{ep: EpCheckout, method: "POST", path: "/v1/holds/" + url.PathEscape(h.HoldID) + "/checkout", body: body,
		auth: st.AccessToken, idemKey: idem + "-checkout"}, r.cfg.Retries)
	var o orderAnswer
	if !rep.ok() || json.Unmarshal(rep.body, &o) != nil || o.OrderID == "" {
		return "", "", fmt.Errorf("checkout in %s: %s", ev, rep)
	}
	token := cmp.Or(o.OrderToken, st.AccessToken)
	for {
		rep = r.c.doRetry(ctx, call{ep: EpTickets, method: "GET", path: "/v1/orders/" + url.PathEscape(o.OrderID), auth: token}, r.cfg.Retries)
		var a ticketsAnswer
		if rep.ok() && json.Unmarshal(rep.body, &a) == nil {
			switch {
			case a.Status == "paid" && len(a.Tickets) > 0 && a.Tickets[0].Code != "":
				return ev, a.Tickets[0].Code, nil
			case a.Status == "failed" || a.Status == "refunded":
				return "", "", fmt.Errorf("order %s in %s %s", o.OrderID, ev, a.Status)
			}
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("order %s in %s: not paid in time", o.OrderID, ev)
		case <-time.After(r.cfg.OrderPoll):
		}
	}
}
