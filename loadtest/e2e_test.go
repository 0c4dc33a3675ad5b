package loadtest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/internal/testserver"
	"github.com/onsale/onsale/waitroom"
)

// startServer runs the whole service on the embedded adapters on 127.0.0.1:0, as `onsale serve` does with no
// backend configured, and returns its base URL.
func startServer(t *testing.T, admin string) string {
	t.Helper()
	return startService(t, admin).Base
}

// startService is startServer with the service's parts, for tests that look behind the HTTP API.
func startService(t *testing.T, admin string) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{
		Config: core.Config{AdminToken: admin, Loops: true, SweepEvery: 100 * time.Millisecond},
		// Fans who give up after admission keep their active place until their access ends: short here, so the
		// places come back within the test.
		Room: waitroom.Options{AccessTTL: 10 * time.Second, ArrivalTTL: 2 * time.Second}})
}

// TestEndToEndSmallOnSale sells a small venue to a crowd four times its size on the real server: the event sells
// out, every fan ends somewhere, the audit passes and a sane budget is met; an impossible budget is missed. A second
// run then targets the sold-out event by id.
func TestEndToEndSmallOnSale(t *testing.T) {
	t.Parallel()
	base := startServer(t, "admin-e2e")
	cfg := Config{
		Base: base, Admin: "admin-e2e",
		Sections: "GA:general:60:4500,A:seated:4x10:9000", HoldTTL: 2 * time.Second, MaxPerFan: 4,
		AdmitPerMin: 60000, MaxActive: 200,
		Fans: 400, Arrival: "spike", Window: 500 * time.Millisecond,
		Quantity: 2, MixGA: 0.5, MixSeats: 0.5, Decline: 0.1, SSE: 0.1, MaxSSE: 20,
		Think: 20 * time.Millisecond, Patience: time.Second,
		AbandonQueue: 0.05, AbandonAdmitted: 0.02, AbandonHold: 0.05, AbandonCheckout: 0.05,
		Workers: 32, MaxConns: 64, Timeout: 5 * time.Second, Retries: 3,
		Duration: 120 * time.Second, Settle: 10 * time.Second, OrderPoll: 20 * time.Millisecond,
		Sample: 100 * time.Millisecond, Seed: 7,
	}
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep.Summary())
	var final int64
	for _, k := range fanStateNames[fsPaid:] {
		final += rep.Fans[k]
	}
	if final != 400 {
		var last *EventStats
		if n := len(rep.Series); n > 0 {
			last = rep.Series[n-1].Stats
		}
		t.Fatalf("%d of 400 fans ended: %v; last stats %+v", final, rep.Fans, last)
	}
	if rep.Fans["failed"] != 0 || rep.Totals.Errors != 0 {
		t.Errorf("failed fans %d, errors %d: %v", rep.Fans["failed"], rep.Totals.Errors, rep.Problems)
	}
	if !rep.Audit.Checked || !rep.Audit.Passed {
		t.Fatalf("audit: %+v", rep.Audit)
	}
	if rep.Audit.Sold != 100 || rep.Audit.PaidUnits != 100 || rep.SellOutS == nil {
		t.Errorf("not sold out: sold %d, paid units %d, sell-out %v", rep.Audit.Sold, rep.Audit.PaidUnits, rep.SellOutS)
	}
	if rep.Fans["paid"] == 0 || rep.Fans["declined"] == 0 || rep.Fans["sold-out"] == 0 {
		t.Errorf("outcomes %v", rep.Fans)
	}
	sane := Budget{
		Endpoints: map[Endpoint]EndpointBudget{
			EpJoin: {P99Ms: 5000, ErrorRate: ptr(0)}, EpHold: {P99Ms: 5000, ErrorRate: ptr(0)},
			EpCheckout: {P99Ms: 5000, ErrorRate: ptr(0)}, EpOrder: {P99Ms: 5000},
		},
		Overall: OverallBudget{MinRPS: 1, MaxErrorRate: ptr(0), AuditMustPass: true, MaxSellOutS: 60},
	}
	if v := rep.Check(sane); len(v) != 0 {
		t.Errorf("a sane budget missed: %v", v)
	}
	impossible := Budget{
		Endpoints: map[Endpoint]EndpointBudget{EpHold: {P99Ms: 0.001}},
		Overall:   OverallBudget{MinRPS: 1e9, MaxSellOutS: 0.001},
	}
	if v := rep.Check(impossible); len(v) != 3 {
		t.Errorf("an impossible budget: violations %v, want 3", v)
	}

	// The same event again, by id: it is sold out, so fans learn it from the queue and nothing more is sold.
	again := cfg
	again.Event, again.Fans, again.SSE = rep.Event, 20, 0
	rep2, err := Run(context.Background(), again, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Created || rep2.Fans["sold-out"] != 20 || !rep2.Audit.Passed || rep2.Audit.SoldBefore != 100 || rep2.Audit.PaidUnits != 0 {
		t.Fatalf("second run on the sold-out event: created %v, fans %v, audit %+v", rep2.Created, rep2.Fans, rep2.Audit)
	}
}
