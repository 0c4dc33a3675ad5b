package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's idle-connection cleaner outlives its last connection by up to MaxIdleConnDuration.
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"), // process-wide DNS cache
		goleak.IgnoreAnyFunction("time.Sleep"),
		// The embedded server's fasthttp keeps a process-wide date updater and a worker pool cleaner.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// net/http's client (the status streams, the fake server's tests) lets closing connections' goroutines end
		// on their own.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

// fastConfig is a small, quick crowd against base.
func fastConfig(base string) Config {
	return Config{
		Base: base, Admin: "secret",
		Sections: "GA:general:150:4500,A:seated:5x10:9000",
		Fans:     600, Arrival: "spike", Window: 300 * time.Millisecond,
		Quantity: 2, MixGA: 0.5, MixSeats: 0.5, Decline: 0.1, SSE: 0.2, MaxSSE: 20,
		Think: 5 * time.Millisecond, Patience: 50 * time.Millisecond,
		AbandonQueue: 0.05, AbandonAdmitted: 0.05, AbandonHold: 0.05,
		Workers: 32, MaxConns: 32, Timeout: 2 * time.Second, Retries: 3,
		Duration: 30 * time.Second, Settle: 5 * time.Second, OrderPoll: 5 * time.Millisecond,
		Sample: 50 * time.Millisecond, Seed: 42,
	}
}

func TestRunAgainstFakeServer(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	fs.admitPS = 1000
	fs.minWait = 100 * time.Millisecond // every fan waits, polls or streams
	var progress strings.Builder
	rep, err := Run(context.Background(), fastConfig(fs.srv.URL), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Created || rep.Event == "" {
		t.Fatalf("event not created: %+v", rep)
	}
	var final int64
	for _, k := range fanStateNames[fsPaid:] {
		final += rep.Fans[k]
	}
	if final != 600 {
		t.Fatalf("fans in a final state: %d of 600 (%v)", final, rep.Fans)
	}
	if rep.Fans["paid"] == 0 || rep.Fans["declined"] == 0 || rep.Fans["abandoned"] == 0 || rep.Fans["sold-out"] == 0 {
		t.Errorf("want paid, declined, abandoned and sold-out fans: %v", rep.Fans)
	}
	if rep.Fans["failed"] != 0 {
		t.Errorf("%d fans failed: problems %v", rep.Fans["failed"], rep.Problems)
	}
	if !rep.Audit.Checked || !rep.Audit.Passed {
		t.Fatalf("audit: %+v", rep.Audit)
	}
	if rep.Audit.PaidUnits == 0 || rep.Audit.PaidUnits != rep.Audit.Sold {
		t.Errorf("audit: paid units %d, sold %d", rep.Audit.PaidUnits, rep.Audit.Sold)
	}
	byEp := map[Endpoint]EndpointReport{}
	for _, e := range rep.Endpoints {
		byEp[e.Endpoint] = e
	}
	for _, ep := range []Endpoint{EpJoin, EpHold, EpCheckout, EpOrder, EpStream, EpAdminStats} {
		if byEp[ep].Requests == 0 || byEp[ep].Latency.P99 <= 0 {
			t.Errorf("endpoint %s: %+v", ep, byEp[ep])
		}
	}
	if byEp[EpHold].Problems["seats-unavailable"]+byEp[EpHold].Problems["sold-out"] == 0 {
		t.Errorf("no contention seen on holds: %v", byEp[EpHold].Problems)
	}
	if byEp[EpJoin].Requests != 600 {
		t.Errorf("joins: %d, want one per fan", byEp[EpJoin].Requests)
	}
	if rep.QueueTime.Count == 0 {
		t.Error("no time in queue measured")
	}
	if len(rep.Series) == 0 || rep.Series[len(rep.Series)-1].Stats == nil {
		t.Errorf("no stats samples: %d", len(rep.Series))
	}
	if rep.Totals.RPS <= 0 || rep.Totals.Errors != 0 {
		t.Errorf("totals: %+v", rep.Totals)
	}
	if !strings.Contains(progress.String(), "loadtest "+rep.Event) {
		t.Errorf("no progress line drawn: %q", progress.String())
	}
}

func TestRunAuditCatchesOversell(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	fs.oversell = true
	cfg := fastConfig(fs.srv.URL)
	cfg.Sections, cfg.Fans, cfg.Decline = "GA:general:20", 100, 0
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.Passed || rep.Audit.Sold <= rep.Audit.Capacity {
		t.Fatalf("oversold sale passed the audit: %+v", rep.Audit)
	}
	v := rep.Check(Budget{Overall: OverallBudget{AuditMustPass: true}})
	if len(v) != 1 || v[0].Metric != "audit_must_pass" {
		t.Fatalf("violations %v, want the audit", v)
	}
	// Without a budget the command fails all the same: a broken invariant is never an exit status 0.
	if err := Execute(context.Background(), cfg, io.Discard, io.Discard); !errors.Is(err, ErrAudit) || errors.Is(err, ErrBudget) {
		t.Fatalf("Execute of an oversold sale with no budget = %v, want ErrAudit", err)
	}
}

// A server that captures authorizations made after pay_by fails the run's audit: the check can fail.
func TestRunAuditCatchesALateCapture(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	fs.captureLate = true
	fs.checkoutTTL = 500 * time.Millisecond
	cfg := fastConfig(fs.srv.URL)
	cfg.Sections, cfg.Fans, cfg.SSE = "GA:general:1000", 100, 0
	cfg.AbandonQueue, cfg.AbandonAdmitted, cfg.AbandonHold = 0, 0, 0
	cfg.PayLate, cfg.Decline = 0.2, 0
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.Passed || rep.Audit.LateOrders == 0 || rep.Audit.LateCaptured != rep.Audit.LateOrders {
		t.Fatalf("late captures passed the audit: %+v", rep.Audit)
	}
	if !strings.Contains(strings.Join(rep.Audit.Failures, "\n"), "a late authorization was captured") {
		t.Fatalf("failures %q", rep.Audit.Failures)
	}
	// The same fans against an honest server: the late orders fail hold-expired and the audit passes.
	honest := newFakeServer(t)
	honest.checkoutTTL = 500 * time.Millisecond
	cfg.Base = honest.srv.URL
	rep, err = Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	late := rep.Payments.Paths[slices.IndexFunc(rep.Payments.Paths, func(p PayPathReport) bool { return p.Path == "late" })]
	if !rep.Audit.Passed || rep.Audit.LateOrders == 0 || late.Outcomes[OutcomeHoldExpired] != late.Orders {
		t.Fatalf("honest server: audit %+v, late orders %+v", rep.Audit, late)
	}
}

func TestRetriesReuseTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	fs.fail503 = 3
	cfg := fastConfig(fs.srv.URL)
	cfg.Sections, cfg.Fans, cfg.SSE = "GA:general:1000", 60, 0
	cfg.AbandonQueue, cfg.AbandonAdmitted, cfg.AbandonHold, cfg.Decline = 0, 0, 0, 0
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fans["paid"] != 60 {
		t.Fatalf("paid fans %d of 60: %v %v", rep.Fans["paid"], rep.Fans, rep.Problems)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	retried := 0
	for key, n := range fs.keysSeen {
		if key == "" {
			t.Fatal("a hold was sent without an Idempotency-Key")
		}
		if n > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no key was sent twice although every third hold failed")
	}
	if len(fs.holds) != 60 {
		t.Fatalf("%d holds for 60 fans: a retry made a second hold", len(fs.holds))
	}
	if rep.Problems["unavailable"] == 0 {
		t.Fatal("the 503s were not counted")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Base: "ftp://x", Admin: "a"},
		{Base: "http://127.0.0.1:1"},
		{Base: "http://127.0.0.1:1", Admin: "a", Arrival: "flood"},
		{Base: "http://127.0.0.1:1", Admin: "a", Sections: "GA:general:0"},
		{Base: "http://127.0.0.1:1", Admin: "a", Decline: 1.5},
	} {
		if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "invalid load test configuration") {
			t.Errorf("Run(%+v) = %v, want a configuration error", cfg, err)
		}
	}
}

func TestRunReportsAnUnreachableServer(t *testing.T) {
	t.Parallel()
	cfg := fastConfig("http://127.0.0.1:1")
	cfg.Retries = 0
	if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "create event") {
		t.Fatalf("Run against nothing = %v, want a create event error", err)
	}
}

func TestExecuteWritesReportsAndFailsAMissedBudget(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	dir := t.TempDir()
	budget := filepath.Join(dir, "budget.json")
	if err := os.WriteFile(budget, []byte(`{"overall": {"audit_must_pass": true, "min_rps": 1000000000}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig(fs.srv.URL)
	cfg.Fans, cfg.Sections = 50, "GA:general:20"
	cfg.BudgetPath, cfg.JSONOut, cfg.HTMLOut = budget, filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var out strings.Builder
	err := Execute(context.Background(), cfg, &out, io.Discard)
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "min_rps") {
		t.Fatalf("Execute = %v, want the missed min_rps budget", err)
	}
	if !strings.Contains(out.String(), "budget missed: overall min_rps") || !strings.Contains(out.String(), "audit: passed") {
		t.Errorf("summary %q", out.String())
	}
	raw, err := os.ReadFile(cfg.JSONOut)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil || len(rep.Violations) != 1 || rep.Budget == nil {
		t.Fatalf("JSON report: %v, violations %v", err, rep.Violations)
	}
	page, err := os.ReadFile(cfg.HTMLOut)
	if err != nil || !strings.Contains(string(page), "missed (1)") {
		t.Fatalf("HTML report does not show the missed budget: %v", err)
	}

	// With the JSON report on stdout, the summary goes to stderr and stdout is JSON alone.
	cfg.BudgetPath, cfg.JSONOut, cfg.HTMLOut = "", "-", ""
	var stdout, stderr strings.Builder
	if err := Execute(context.Background(), cfg, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil || !strings.Contains(stderr.String(), "audit: passed") {
		t.Fatalf("stdout is not the JSON report alone (%v), stderr %q", err, stderr.String())
	}

	// A broken budget file costs no run.
	cfg.BudgetPath = filepath.Join(dir, "missing.json")
	if err := Execute(context.Background(), cfg, io.Discard, io.Discard); err == nil || errors.Is(err, ErrBudget) {
		t.Fatalf("Execute with a missing budget = %v", err)
	}
}
