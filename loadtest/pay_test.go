package loadtest

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ status, reason, want string }{
		{"paid", "", OutcomePaid},
		{"refunded", "", OutcomeRefunded},
		{"failed", "hold-expired", OutcomeHoldExpired},
		{"failed", "payment_intent_authentication_failure", Outcome3DSFailed},
		{"failed", "card_declined", OutcomeDeclined},
		{"failed", "insufficient_funds", OutcomeDeclined},
		{"failed", "capture-failed", OutcomeCaptureFailed},
		{"failed", "", OutcomeFailed},
		{"requires_action", "", OutcomeUnsettled},
		{"pending", "", OutcomeUnsettled},
	} {
		if got := outcomeOf(tc.status, tc.reason); got != tc.want {
			t.Errorf("outcomeOf(%q, %q) = %q, want %q", tc.status, tc.reason, got, tc.want)
		}
	}
}

func TestFansPayAsTheMixSays(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	shares := cfg.payShares()
	if sum := shares[payBrowser] + shares[pay3DS] + shares[pay3DSFail] + shares[payDecline] + shares[payLate] + shares[payServer]; math.Abs(sum-1) > 1e-9 || math.Abs(shares[payBrowser]-0.6) > 1e-9 {
		t.Fatalf("default shares %v", shares)
	}
	var n [payPathCount]int
	const fans = 100000
	for i := range fans {
		f := &fan{rng: uint64(i) * 0x9e3779b97f4a7c15}
		n[drawPay(f, shares)]++
	}
	for p, share := range shares {
		if got := float64(n[p]) / fans; math.Abs(got-share) > 0.005 {
			t.Errorf("path %s: %.3f of the fans, want %.3f", payPath(p), got, share)
		}
	}
	cfg.Admin, cfg.Decline, cfg.PayLate = "a", 0.5, 0.3
	if err := cfg.withDefaults().validate(); err == nil || !strings.Contains(err.Error(), "add up to") {
		t.Errorf("shares adding up to more than 1: %v", err)
	}
	cfg.Decline, cfg.PayLate, cfg.CheckoutTTL = 0.05, 0.05, 500*time.Millisecond
	if err := cfg.withDefaults().validate(); err == nil || !strings.Contains(err.Error(), "-checkout-ttl") {
		t.Errorf("checkout TTL under a second: %v", err)
	}
}

func TestPaymentsReport(t *testing.T) {
	t.Parallel()
	b := newOrderBook()
	orders := []OrderRecord{
		{OrderID: "o1", Status: "paid", Pay: "browser"},
		{OrderID: "o2", Status: "paid", Pay: "browser"},
		{OrderID: "o3", Status: "failed", FailureReason: "hold-expired", Pay: "browser"}, // missed its deadline
		{OrderID: "o4", Status: "failed", FailureReason: "hold-expired", Pay: "late"},
	}
	var shares [payPathCount]float64
	shares[payBrowser], shares[payLate] = 0.75, 0.25
	p := paymentsReport(orders, shares, &b.ttp, b.ttpAll)
	if p.Orders != 4 || p.Outcomes[OutcomePaid] != 2 || p.Outcomes[OutcomeHoldExpired] != 2 || p.Unexpected != 1 {
		t.Fatalf("payments %+v", p)
	}
	if p.Shares[OutcomePaid] != 0.5 || p.Expected[OutcomePaid] != 0.75 || p.Expected[OutcomeHoldExpired] != 0.25 {
		t.Errorf("shares %v, expected %v", p.Shares, p.Expected)
	}
	if len(p.Paths) != int(payPathCount) || p.Paths[0].Path != "browser" || p.Paths[0].Orders != 3 || p.Paths[0].Share != 0.75 {
		t.Errorf("paths %+v", p.Paths)
	}
	// Missing the mix by 25 points misses a 5 % tolerance, twice (paid too few, hold-expired too many).
	v := (Report{Payments: p}).Check(Budget{Payments: PaymentBudget{OutcomeTolerance: ptr(0.05)}})
	if len(v) != 2 || v[0].Scope != "payments" || !strings.Contains(v[0].Detail, "paid 50.0% of the orders, expected 75.0%") {
		t.Errorf("violations %v", v)
	}
	if v := (Report{Payments: p}).Check(Budget{Payments: PaymentBudget{OutcomeTolerance: ptr(0.25)}}); len(v) != 0 {
		t.Errorf("within tolerance: %v", v)
	}
	if summary := p.summary(); !strings.Contains(summary, "hold-expired 2 (50.0%, expected 25.0%); 1 unexpected") {
		t.Errorf("summary %q", summary)
	}
}

func TestCheckTimeToPay(t *testing.T) {
	t.Parallel()
	b := Budget{Payments: PaymentBudget{TimeToPay: LatencyBudget{P95Ms: 1000, P99Ms: 2000}}}
	r := Report{Payments: Payments{TimeToPay: Percentiles{Count: 10, P50: 300, P95: 1500, P99: 1800}}}
	if v := r.Check(b); len(v) != 1 || v[0].Metric != "time_to_pay.p95_ms" || v[0].Actual != 1500 {
		t.Errorf("violations %v", v)
	}
	if v := (Report{}).Check(b); len(v) != 1 || v[0].Detail != "no order was seen paid" {
		t.Errorf("nothing paid: %v", v)
	}
	for _, bad := range []string{`{"payments": {"time_to_pay": {"p95": 1}}}`, `{"payments": {"outcome_tolerance": 2}}`,
		`{"payments": {"time_to_pay": {"p99_ms": -1}}}`, `{"payments": {"tolerance": 0.1}}`} {
		if _, err := ParseBudget([]byte(bad)); err == nil {
			t.Errorf("ParseBudget(%s) accepted", bad)
		}
	}
}
