package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// TestEndToEndPaymentMix pays the default mix on the real server with the test provider: fans confirm in the page,
// pass and fail 3-D Secure, are declined, authenticate after pay_by, or let the server confirm. Each outcome shows
// up with about its share, every order ends as its card calls for, the audit passes, and the provider captured
// exactly the paid orders' payments, so no late authorization was captured.
func TestEndToEndPaymentMix(t *testing.T) {
	t.Parallel()
	srv := startService(t, "admin-mix")
	d := Defaults()
	cfg := Config{
		Base: srv.Base, Admin: "admin-mix",
		Sections: "GA:general:1000:4500", HoldTTL: 10 * time.Second, CheckoutTTL: 5 * time.Second, MaxPerFan: 4,
		AdmitPerMin: 60000, MaxActive: 1000,
		Fans: 400, Arrival: "spike", Window: 500 * time.Millisecond, Quantity: 1,
		PayServer: d.PayServer, Pay3DS: d.Pay3DS, Pay3DSFail: d.Pay3DSFail, Decline: d.Decline, PayLate: d.PayLate,
		Think: 20 * time.Millisecond, Patience: time.Second,
		Workers: 32, MaxConns: 64, Timeout: 5 * time.Second, Retries: 3,
		Duration: 60 * time.Second, Settle: 10 * time.Second, OrderPoll: 20 * time.Millisecond,
		Sample: 100 * time.Millisecond, Seed: 11,
	}
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep.Summary())
	p := rep.Payments
	if rep.Fans["paid"]+rep.Fans["declined"]+rep.Fans["expired"] != 400 || p.Orders != 400 || rep.Totals.Errors != 0 {
		t.Fatalf("want every fan to check out and end paid, declined or expired: fans %v, orders %d, problems %v",
			rep.Fans, p.Orders, rep.Problems)
	}
	shares := cfg.payShares()
	for _, pr := range p.Paths {
		if got, want := float64(pr.Orders)/400, shares[pathNamed(t, pr.Path)]; math.Abs(got-want) > 0.08 {
			t.Errorf("path %s: %.1f%% of the orders, configured %.1f%%", pr.Path, 100*got, 100*want)
		}
		if pr.Orders == 0 || pr.Outcomes[pr.Expect] < pr.Orders*9/10 {
			t.Errorf("path %s: %d orders, outcomes %v, want nearly all %s", pr.Path, pr.Orders, pr.Outcomes, pr.Expect)
		}
	}
	want := map[string]float64{OutcomePaid: shares[payBrowser] + shares[pay3DS] + shares[payServer],
		OutcomeDeclined: shares[payDecline], Outcome3DSFailed: shares[pay3DSFail], OutcomeHoldExpired: shares[payLate]}
	for k, w := range want {
		if math.Abs(p.Shares[k]-w) > 0.08 {
			t.Errorf("outcome %s: %.1f%% of the orders, the mix calls for %.1f%%", k, 100*p.Shares[k], 100*w)
		}
	}
	if p.Unexpected > p.Orders/50 {
		t.Errorf("%d of %d orders did not end as their card calls for (generator lag p99 %.0f ms)", p.Unexpected, p.Orders, rep.Lag.P99)
	}
	if p.TimeToPay.Count != p.Outcomes[OutcomePaid] || p.TimeToPay.P50 <= 0 {
		t.Errorf("time to pay %+v for %d paid orders", p.TimeToPay, p.Outcomes[OutcomePaid])
	}
	if !rep.Audit.Passed || rep.Audit.LateOrders == 0 || rep.Audit.LateCaptured != 0 {
		t.Fatalf("audit: %+v", rep.Audit)
	}
	budget := Budget{Payments: PaymentBudget{TimeToPay: LatencyBudget{P99Ms: 10000}, OutcomeTolerance: ptr(0.05)},
		Endpoints: map[Endpoint]EndpointBudget{EpConfirm: {ErrorRate: ptr(0)}, EpAuthenticate: {ErrorRate: ptr(0)}}}
	if v := rep.Check(budget); len(v) != 0 {
		t.Errorf("the payment budget missed: %v", v)
	}

	// Behind the API: the provider took money for the paid orders and for nothing else.
	captured := 0
	for _, in := range srv.Payments.All() {
		if in.Captured > 0 {
			captured++
		}
	}
	if int64(captured) != p.Outcomes[OutcomePaid] {
		t.Errorf("%d payments captured for %d paid orders", captured, p.Outcomes[OutcomePaid])
	}

	// The reports carry the mix.
	var js, page bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Payments Payments `json:"payments"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Payments.Outcomes[OutcomeHoldExpired] == 0 || len(back.Payments.Paths) != int(payPathCount) {
		t.Errorf("JSON payments %+v (%v)", back.Payments, err)
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`id="outcomes"`, `id="pay-paths"`, "<td>3ds-failed</td>", "<td>hold-expired</td>", "pm_card_authenticationRequired"} {
		if !strings.Contains(page.String(), s) {
			t.Errorf("the HTML report lacks %q", s)
		}
	}
}

func pathNamed(t *testing.T, name string) payPath {
	t.Helper()
	for p := range payPathCount {
		if p.String() == name {
			return p
		}
	}
	t.Fatalf("no payment path %q", name)
	return 0
}
