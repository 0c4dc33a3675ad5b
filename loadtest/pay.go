package loadtest

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"time"
)

// payPath is how a fan pays, drawn when it is created. Every path but payServer checks out without a
// payment_method and pays in the page, through the test provider's confirm and authenticate endpoints (what
// Stripe.js and the bank's 3-D Secure page do).
type payPath uint8

const (
	payServer  payPath = iota // checkout with payment_method pm_card_visa: the server confirms it
	payBrowser                // confirms pm_card_visa in the page
	pay3DS                    // confirms pm_card_threeDSecure2Required, passes 3-D Secure
	pay3DSFail                // confirms pm_card_threeDSecure2Required, fails 3-D Secure
	payDecline                // confirms pm_card_chargeDeclined
	payLate                   // confirms pm_card_authenticationRequired, passes 3-D Secure after pay_by
	payPathCount
)

var payPathNames = [payPathCount]string{"server", "browser", "3ds", "3ds-fail", "decline", "late"}

func (p payPath) String() string { return payPathNames[p] }

// card is the test payment method the fan's path pays with.
func (p payPath) card() string {
	switch p {
	case pay3DS, pay3DSFail:
		return card3DS
	case payDecline:
		return cardDeclined
	case payLate:
		return cardAuthRequired
	}
	return cardOK
}

// expect is the outcome the path's card calls for.
func (p payPath) expect() string {
	switch p {
	case pay3DSFail:
		return Outcome3DSFailed
	case payDecline:
		return OutcomeDeclined
	case payLate:
		return OutcomeHoldExpired
	}
	return OutcomePaid
}

// Test cards of the payment provider (Stripe's test payment methods).
const (
	cardOK           = "pm_card_visa"
	cardDeclined     = "pm_card_chargeDeclined"
	card3DS          = "pm_card_threeDSecure2Required"
	cardAuthRequired = "pm_card_authenticationRequired"
)

// lateMargin is how long after pay_by a late fan authenticates: far enough past it that the generator's and the
// server's clocks cannot disagree about which side of the deadline it is.
const lateMargin = 500 * time.Millisecond

// Where a paying fan stands with its page.
const (
	stageCheckedOut    uint8 = iota // waiting for the order to ask for the payment
	stageConfirmed                  // confirmed the card
	stageAuthenticated              // answered 3-D Secure
)

// How an order ended, as the report and the budget name it.
const (
	OutcomePaid          = "paid"
	OutcomeDeclined      = "declined"       // the card was declined
	Outcome3DSFailed     = "3ds-failed"     // 3-D Secure was failed
	OutcomeHoldExpired   = "hold-expired"   // not authorized before pay_by; any late authorization was released
	OutcomeRefunded      = "refunded"       // captured, then given back
	OutcomeCaptureFailed = "capture-failed" // authorized, the capture failed for good
	OutcomeFailed        = "failed"         // failed for another reason
	OutcomeUnsettled     = "unsettled"      // not paid, failed or refunded when the run ended
)

// Outcomes lists every outcome in report order.
var Outcomes = []string{OutcomePaid, OutcomeDeclined, Outcome3DSFailed, OutcomeHoldExpired, OutcomeRefunded,
	OutcomeCaptureFailed, OutcomeFailed, OutcomeUnsettled}

// outcomeOf names an order's end from its status and failure_reason.
func outcomeOf(status, reason string) string {
	switch status {
	case "paid":
		return OutcomePaid
	case "refunded":
		return OutcomeRefunded
	case "failed":
		switch reason {
		case "hold-expired":
			return OutcomeHoldExpired
		case "payment_intent_authentication_failure":
			return Outcome3DSFailed
		case "capture-failed":
			return OutcomeCaptureFailed
		case "", "canceled":
			return OutcomeFailed
		}
		return OutcomeDeclined // a decline code: card_declined, insufficient_funds, …
	}
	return OutcomeUnsettled
}

// payShares are the configured shares of every path; payBrowser takes what the others leave.
func (c Config) payShares() [payPathCount]float64 {
	var s [payPathCount]float64
	s[payServer], s[pay3DS], s[pay3DSFail], s[payDecline], s[payLate] = c.PayServer, c.Pay3DS, c.Pay3DSFail, c.Decline, c.PayLate
	rest := 1 - (c.PayServer + c.Pay3DS + c.Pay3DSFail + c.Decline + c.PayLate)
	s[payBrowser] = max(0, math.Round(rest*1e9)/1e9) // 0.6, not 0.6000000000000001, in the report
	return s
}

// drawPay picks a fan's path from one draw, so the fan's other choices stay as they were.
func drawPay(f *fan, shares [payPathCount]float64) payPath {
	p := f.float()
	for path := range payPathCount {
		if p < shares[path] {
			return path
		}
		p -= shares[path]
	}
	return payBrowser // rounding left p at the very end
}

// The JSON of the payment steps (core/openapi.yaml).
type (
	nextAction struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	paymentAnswer struct {
		Provider     string      `json:"provider"`
		ClientSecret string      `json:"client_secret"`
		NextAction   *nextAction `json:"next_action"`
	}
	testPaymentAnswer struct {
		PaymentIntent string      `json:"payment_intent"`
		Status        string      `json:"status"`
		NextAction    *nextAction `json:"next_action"`
		FailureReason string      `json:"failure_reason"`
	}
	confirmBody struct {
		PaymentMethod string `json:"payment_method"`
	}
	authenticateBody struct {
		Outcome string `json:"outcome"`
	}
)

// intentOf is the order's PaymentIntent: its id, or the part of the client secret before "_secret_".
func intentOf(o orderAnswer) string {
	if o.PaymentIntent != "" {
		return o.PaymentIntent
	}
	if o.Payment != nil {
		if pi, _, ok := strings.Cut(o.Payment.ClientSecret, "_secret_"); ok {
			return pi
		}
	}
	return ""
}

// awaitingFan acts on an order in requires_action as the fan's page does: it confirms the card once the order
// asks for it, and answers 3-D Secure once the bank asks. It reports whether it scheduled the fan.
func (r *runner) awaitingFan(f *fan, o orderAnswer) bool {
	if f.pay == payServer {
		return false // nothing to do in the page; the server confirmed
	}
	if o.PayBy != nil {
		f.payBy = o.PayBy.Sub(r.sched.start)
		f.payUntil = max(f.payUntil, f.payBy+lateMargin+r.cfg.Settle)
	}
	if pi := intentOf(o); pi != "" {
		f.pi = pi
	}
	if f.pi == "" || o.Payment == nil {
		return false
	}
	switch {
	case f.stage == stageCheckedOut && o.Payment.ClientSecret != "" && o.Payment.NextAction == nil:
		f.next = stepConfirm
		f.attempts = 0
		r.sched.after(r.think(f), f) // types the card
		return true
	case f.stage == stageConfirmed && o.Payment.NextAction != nil:
		r.toAuthenticate(f)
		return true
	}
	return false
}

// toAuthenticate schedules the fan's answer on the 3-D Secure page: after a pause, or past pay_by for a late fan.
func (r *runner) toAuthenticate(f *fan) {
	f.next = stepAuthenticate
	f.attempts = 0
	if f.pay != payLate {
		r.sched.after(r.think(f), f)
		return
	}
	at := f.payBy + lateMargin
	if f.payBy == 0 { // the order did not say: the deadline is the checkout's plus the event's checkout TTL
		at = f.checkoutAt + r.checkoutTTL + lateMargin
	}
	f.payUntil = max(f.payUntil, at+r.cfg.Settle)
	r.sched.at(max(at, r.sched.now()), f)
}

// pastPayBy reports whether the fan acts after its order's deadline (a slow fan, or a slow generator): the
// payment may be cancelled already, and a conflict is then the server's right answer.
func (r *runner) pastPayBy(f *fan) bool { return f.payBy > 0 && r.sched.now() >= f.payBy }

func (r *runner) testPaymentPath(f *fan, action string) string {
	return "/v1/test-payments/" + url.PathEscape(f.pi) + "/" + action
}

// confirm is the page confirming the fan's card (Stripe.js's confirmPayment).
func (r *runner) confirm(f *fan) {
	body, _ := json.Marshal(confirmBody{PaymentMethod: f.pay.card()})
	expect := ""
	if f.attempts > 0 || r.pastPayBy(f) {
		expect = "conflict" // an earlier attempt got through, or the deadline cancelled the payment
	}
	rep := r.c.do(call{ep: EpConfirm, method: "POST", path: r.testPaymentPath(f, "confirm"), body: body, expect: expect})
	if !rep.ok() && !(expect != "" && rep.problem == expect) {
		r.retryOr(f, rep)
		return
	}
	f.attempts = 0
	f.stage = stageConfirmed
	f.payUntil = max(f.payUntil, r.sched.now()+r.cfg.Settle)
	var tp testPaymentAnswer
	if rep.ok() && r.c.decode(EpConfirm, rep, &tp) == nil && tp.Status == "requires_action" && tp.NextAction != nil {
		r.toAuthenticate(f)
		return
	}
	f.next = stepOrder
	r.sched.after(r.cfg.OrderPoll, f)
}

// authenticate is the fan's answer on the bank's 3-D Secure page.
func (r *runner) authenticate(f *fan) {
	outcome := "succeed"
	if f.pay == pay3DSFail {
		outcome = "fail"
	}
	body, _ := json.Marshal(authenticateBody{Outcome: outcome})
	expect := ""
	if f.pay == payLate || f.attempts > 0 || r.pastPayBy(f) {
		expect = "conflict" // the deadline's cancel came first, or an earlier attempt got through
	}
	rep := r.c.do(call{ep: EpAuthenticate, method: "POST", path: r.testPaymentPath(f, "authenticate"), body: body, expect: expect})
	if !rep.ok() && !(expect != "" && rep.problem == expect) {
		r.retryOr(f, rep)
		return
	}
	f.attempts = 0
	f.stage = stageAuthenticated
	f.payUntil = max(f.payUntil, r.sched.now()+r.cfg.Settle)
	f.next = stepOrder
	r.sched.after(r.cfg.OrderPoll, f)
}

// Payments is how the fans who checked out paid and how their orders ended, from the orders as last seen (after
// the settle phase).
type Payments struct {
	Orders   int64              `json:"orders"`
	Outcomes map[string]int64   `json:"outcomes"`        // orders by outcome
	Shares   map[string]float64 `json:"shares"`          // Outcomes / Orders
	Expected map[string]float64 `json:"expected_shares"` // the shares the orders' cards call for
	// Unexpected counts orders that did not end as their card calls for (a visa payment that missed pay_by, …).
	Unexpected int64           `json:"unexpected"`
	TimeToPay  Percentiles     `json:"time_to_pay_ms"` // checkout sent to the order seen paid
	Paths      []PayPathReport `json:"paths"`
}

// PayPathReport is one payment path's orders.
type PayPathReport struct {
	Path      string           `json:"path"`
	Card      string           `json:"card"`
	InPage    bool             `json:"in_page"` // confirmed in the page rather than by the server
	Share     float64          `json:"share"`   // of the fans, as configured
	Expect    string           `json:"expect"`  // the outcome its card calls for
	Orders    int64            `json:"orders"`
	Outcomes  map[string]int64 `json:"outcomes"`
	TimeToPay Percentiles      `json:"time_to_pay_ms"`
}

// paymentsReport sums the orders by path and outcome.
func paymentsReport(orders []OrderRecord, shares [payPathCount]float64, ttp *[payPathCount]*durationHist, all *durationHist) Payments {
	p := Payments{Outcomes: map[string]int64{}, Shares: map[string]float64{}, Expected: map[string]float64{}, TimeToPay: all.percentiles()}
	byPath := map[string]*PayPathReport{}
	order := []payPath{payBrowser, pay3DS, pay3DSFail, payDecline, payLate, payServer}
	for _, path := range order {
		pr := &PayPathReport{Path: path.String(), Card: path.card(), InPage: path != payServer, Share: shares[path],
			Expect: path.expect(), Outcomes: map[string]int64{}, TimeToPay: ttp[path].percentiles()}
		byPath[pr.Path] = pr
	}
	for _, o := range orders {
		out := outcomeOf(o.Status, o.FailureReason)
		p.Orders++
		p.Outcomes[out]++
		if pr := byPath[o.Pay]; pr != nil {
			pr.Orders++
			pr.Outcomes[out]++
			p.Expected[pr.Expect]++
			if out != pr.Expect {
				p.Unexpected++
			}
		}
	}
	for _, path := range order {
		p.Paths = append(p.Paths, *byPath[path.String()])
	}
	if p.Orders > 0 {
		for k, n := range p.Outcomes {
			p.Shares[k] = float64(n) / float64(p.Orders)
		}
		for k, n := range p.Expected {
			p.Expected[k] = n / float64(p.Orders)
		}
	}
	return p
}
