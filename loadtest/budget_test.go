package loadtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

func sampleReport() Report {
	sell := 42.0
	return Report{
		Endpoints: []EndpointReport{
			{Endpoint: EpJoin, Requests: 1000, Errors: 2, ErrorRate: 0.002, Latency: Percentiles{Count: 1000, P50: 3, P95: 40, P99: 90, Max: 200}},
			{Endpoint: EpHold, Requests: 500, Errors: 50, ErrorRate: 0.1, Latency: Percentiles{Count: 500, P50: 5, P95: 120, P99: 400, Max: 900}},
		},
		Totals:   Totals{Requests: 1500, Errors: 52, ErrorRate: 52.0 / 1500, RPS: 300},
		SellOutS: &sell,
		Audit:    Audit{Checked: true, Passed: true},
	}
}

func TestCheckMeetsABudget(t *testing.T) {
	t.Parallel()
	b := Budget{
		Endpoints: map[Endpoint]EndpointBudget{
			EpJoin: {P95Ms: 50, P99Ms: 100, ErrorRate: ptr(0.01)},
			EpHold: {P95Ms: 150, P99Ms: 500, ErrorRate: ptr(0.2)},
		},
		Overall: OverallBudget{MinRPS: 200, MaxErrorRate: ptr(0.05), AuditMustPass: true, MaxSellOutS: 60},
	}
	if v := sampleReport().Check(b); len(v) != 0 {
		t.Fatalf("violations %v, want none", v)
	}
}

func TestCheckReportsEveryMissedThreshold(t *testing.T) {
	t.Parallel()
	b := Budget{
		Endpoints: map[Endpoint]EndpointBudget{
			EpJoin:     {P95Ms: 30, P99Ms: 80, ErrorRate: ptr(0.001)},
			EpHold:     {P95Ms: 150, ErrorRate: ptr(0.05)},
			EpCheckout: {P95Ms: 100}, // never called
		},
		Overall: OverallBudget{MinRPS: 400, MaxErrorRate: ptr(0.01), AuditMustPass: true, MaxSellOutS: 30},
	}
	r := sampleReport()
	r.Audit = Audit{Checked: true, Failures: []string{"sold 11 > capacity 10"}}
	got := map[string]Violation{}
	for _, v := range r.Check(b) {
		got[v.Scope+" "+v.Metric] = v
	}
	want := []string{"join p95_ms", "join p99_ms", "join error_rate", "hold error_rate", "checkout requests",
		"overall min_rps", "overall max_error_rate", "overall audit_must_pass", "overall max_sellout_s"}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Errorf("missing violation %q; got %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d violations, want %d: %v", len(got), len(want), got)
	}
	if v := got["join p95_ms"]; v.Limit != 30 || v.Actual != 40 {
		t.Errorf("join p95: %+v", v)
	}
	if !strings.Contains(got["overall audit_must_pass"].Detail, "sold 11 > capacity 10") {
		t.Errorf("audit violation does not say why: %+v", got["overall audit_must_pass"])
	}
}

func TestCheckSellOutThatNeverCame(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.SellOutS = nil
	v := r.Check(Budget{Overall: OverallBudget{MaxSellOutS: 60}})
	if len(v) != 1 || v[0].Detail != "the event did not sell out" {
		t.Fatalf("violations %v", v)
	}
	// An unset error rate is not checked, a zero one is.
	r = sampleReport()
	if v := r.Check(Budget{Endpoints: map[Endpoint]EndpointBudget{EpJoin: {}}}); len(v) != 0 {
		t.Errorf("empty endpoint budget: %v", v)
	}
	if v := r.Check(Budget{Endpoints: map[Endpoint]EndpointBudget{EpJoin: {ErrorRate: ptr(0)}}}); len(v) != 1 {
		t.Errorf("zero error rate with errors: %v", v)
	}
}

func TestLoadBudget(t *testing.T) {
	t.Parallel()
	b, err := LoadBudget("budget.json")
	if err != nil {
		t.Fatalf("the shipped budget: %v", err)
	}
	if len(b.Endpoints) == 0 || !b.Overall.AuditMustPass {
		t.Errorf("the shipped budget bounds nothing: %+v", b)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"typo":        `{"endpoints": {"join": {"p95ms": 10}}}`,
		"unknown-ep":  `{"endpoints": {"joins": {"p95_ms": 10}}}`,
		"negative":    `{"endpoints": {"join": {"p95_ms": -1}}}`,
		"rate":        `{"overall": {"max_error_rate": 2}}`,
		"not-json":    `{"endpoints": `,
		"trailing":    `{} {}`,
		"wrong-type":  `{"overall": {"audit_must_pass": "yes"}}`,
		"overall-key": `{"overall": {"min_rps": 1, "max_p99": 3}}`,
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadBudget(p); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: LoadBudget = %v, want ErrConfig", name, err)
		}
	}
	if _, err := LoadBudget(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing budget file loaded")
	}
}
