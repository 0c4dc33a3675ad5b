package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// ErrBudget is wrapped by the error Execute returns when a run misses its budget.
var ErrBudget = errors.New("load test budget missed")

// ErrAudit is wrapped by Execute's error when the run's audit failed (an oversell, a late capture, a ticket let in
// twice): a broken invariant fails the run whatever the budget says.
var ErrAudit = errors.New("load test audit failed")

// Budget is what a run must achieve. The same file sets the k6 scripts' thresholds (loadtest/k6/budget.js).
type Budget struct {
	Endpoints map[Endpoint]EndpointBudget `json:"endpoints"`
	Overall   OverallBudget               `json:"overall"`
	Payments  PaymentBudget               `json:"payments"`
}

// PaymentBudget bounds how the fans paid. Zero values and a nil tolerance are not checked.
type PaymentBudget struct {
	TimeToPay LatencyBudget `json:"time_to_pay"` // checkout sent to the order seen paid
	// OutcomeTolerance bounds how far each outcome's share of the orders may be from the share the orders' cards
	// call for (paid for visa and passed 3-D Secure, declined, 3ds-failed, hold-expired for late fans).
	OutcomeTolerance *float64 `json:"outcome_tolerance,omitempty"`
}

// LatencyBudget bounds a distribution of durations.
type LatencyBudget struct {
	P95Ms float64 `json:"p95_ms,omitempty"`
	P99Ms float64 `json:"p99_ms,omitempty"`
}

// EndpointBudget bounds one endpoint. A zero latency bound and a nil error rate are not checked.
type EndpointBudget struct {
	P95Ms     float64  `json:"p95_ms,omitempty"`
	P99Ms     float64  `json:"p99_ms,omitempty"`
	ErrorRate *float64 `json:"error_rate,omitempty"` // failed / all requests, at most
}

// OverallBudget bounds the whole run. Zero values are not checked.
type OverallBudget struct {
	MinRPS        float64  `json:"min_rps,omitempty"`        // all requests per second, at least
	MaxErrorRate  *float64 `json:"max_error_rate,omitempty"` // failed / all requests, at most
	AuditMustPass bool     `json:"audit_must_pass,omitempty"`
	MaxSellOutS   float64  `json:"max_sellout_s,omitempty"` // the event must sell out within this many seconds
}

// LoadBudget reads and validates a budget file. Unknown fields and endpoints are errors, so a typo cannot turn a
// threshold off.
func LoadBudget(path string) (Budget, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Budget{}, fmt.Errorf("budget: %w", err)
	}
	b, err := ParseBudget(raw)
	if err != nil {
		return Budget{}, fmt.Errorf("budget %s: %w", path, err)
	}
	return b, nil
}

// ParseBudget decodes and validates a budget.
func ParseBudget(raw []byte) (Budget, error) {
	var b Budget
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Budget{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Budget{}, fmt.Errorf("%w: trailing data after the budget", ErrConfig)
	}
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	badRate := func(r *float64) bool { return r != nil && (bad(*r) || *r > 1) }
	for ep, eb := range b.Endpoints {
		if endpointIndex(ep) < 0 {
			return Budget{}, fmt.Errorf("%w: unknown endpoint %q (known: %v)", ErrConfig, ep, Endpoints)
		}
		if bad(eb.P95Ms) || bad(eb.P99Ms) || badRate(eb.ErrorRate) {
			return Budget{}, fmt.Errorf("%w: endpoint %q: thresholds must be non-negative, rates at most 1", ErrConfig, ep)
		}
	}
	o := b.Overall
	if bad(o.MinRPS) || bad(o.MaxSellOutS) || badRate(o.MaxErrorRate) {
		return Budget{}, fmt.Errorf("%w: overall: thresholds must be non-negative, rates at most 1", ErrConfig)
	}
	p := b.Payments
	if bad(p.TimeToPay.P95Ms) || bad(p.TimeToPay.P99Ms) || badRate(p.OutcomeTolerance) {
		return Budget{}, fmt.Errorf("%w: payments: thresholds must be non-negative, the tolerance at most 1", ErrConfig)
	}
	return b, nil
}

// Violation is one missed threshold.
type Violation struct {
	Scope  string  `json:"scope"`  // an endpoint name, or "overall"
	Metric string  `json:"metric"` // the budget field, e.g. "p95_ms"
	Limit  float64 `json:"limit"`
	Actual float64 `json:"actual"`
	Detail string  `json:"detail"`
}

func (v Violation) String() string { return v.Scope + " " + v.Metric + ": " + v.Detail }

// Check compares the report with a budget and returns every threshold it misses; none means the budget is met.
// An endpoint the budget bounds but the run never called is a violation: a budget nothing was measured against
// proves nothing.
func (r Report) Check(b Budget) []Violation {
	var out []Violation
	miss := func(scope, metric string, limit, actual float64, format string, args ...any) {
		out = append(out, Violation{Scope: scope, Metric: metric, Limit: limit, Actual: actual, Detail: fmt.Sprintf(format, args...)})
	}
	byName := map[Endpoint]EndpointReport{}
	for _, e := range r.Endpoints {
		byName[e.Endpoint] = e
	}
	for _, ep := range Endpoints { // report order, so the output is stable
		eb, ok := b.Endpoints[ep]
		if !ok {
			continue
		}
		e, seen := byName[ep]
		if !seen || e.Requests == 0 {
			miss(string(ep), "requests", 1, 0, "no requests were measured")
			continue
		}
		if eb.P95Ms > 0 && e.Latency.P95 > eb.P95Ms {
			miss(string(ep), "p95_ms", eb.P95Ms, e.Latency.P95, "p95 %.1f ms > %.1f ms", e.Latency.P95, eb.P95Ms)
		}
		if eb.P99Ms > 0 && e.Latency.P99 > eb.P99Ms {
			miss(string(ep), "p99_ms", eb.P99Ms, e.Latency.P99, "p99 %.1f ms > %.1f ms", e.Latency.P99, eb.P99Ms)
		}
		if eb.ErrorRate != nil && e.ErrorRate > *eb.ErrorRate {
			miss(string(ep), "error_rate", *eb.ErrorRate, e.ErrorRate, "error rate %.4f > %.4f (%d of %d)", e.ErrorRate, *eb.ErrorRate, e.Errors, e.Requests)
		}
	}
	o := b.Overall
	if o.MinRPS > 0 && r.Totals.RPS < o.MinRPS {
		miss("overall", "min_rps", o.MinRPS, r.Totals.RPS, "%.1f requests/s < %.1f", r.Totals.RPS, o.MinRPS)
	}
	if o.MaxErrorRate != nil && r.Totals.ErrorRate > *o.MaxErrorRate {
		miss("overall", "max_error_rate", *o.MaxErrorRate, r.Totals.ErrorRate, "error rate %.4f > %.4f", r.Totals.ErrorRate, *o.MaxErrorRate)
	}
	if o.AuditMustPass && !r.Audit.Passed {
		detail := "the oversell audit failed"
		if len(r.Audit.Failures) > 0 {
			detail += ": " + r.Audit.Failures[0]
		}
		miss("overall", "audit_must_pass", 1, 0, "%s", detail)
	}
	if d := r.Door; o.AuditMustPass && d != nil && !d.Audit.Passed {
		detail := "the door audit failed"
		if len(d.Audit.Failures) > 0 {
			detail += ": " + d.Audit.Failures[0]
		}
		miss("overall", "audit_must_pass", 1, 0, "%s", detail)
	}
	if o.MaxSellOutS > 0 {
		switch {
		case r.SellOutS == nil:
			miss("overall", "max_sellout_s", o.MaxSellOutS, 0, "the event did not sell out")
		case *r.SellOutS > o.MaxSellOutS:
			miss("overall", "max_sellout_s", o.MaxSellOutS, *r.SellOutS, "sold out after %.1f s > %.1f s", *r.SellOutS, o.MaxSellOutS)
		}
	}
	pb, pay := b.Payments, r.Payments
	if t := pb.TimeToPay; t.P95Ms > 0 || t.P99Ms > 0 {
		switch ttp := pay.TimeToPay; {
		case ttp.Count == 0:
			miss("payments", "time_to_pay", 1, 0, "no order was seen paid")
		default:
			if t.P95Ms > 0 && ttp.P95 > t.P95Ms {
				miss("payments", "time_to_pay.p95_ms", t.P95Ms, ttp.P95, "time to pay p95 %.1f ms > %.1f ms", ttp.P95, t.P95Ms)
			}
			if t.P99Ms > 0 && ttp.P99 > t.P99Ms {
				miss("payments", "time_to_pay.p99_ms", t.P99Ms, ttp.P99, "time to pay p99 %.1f ms > %.1f ms", ttp.P99, t.P99Ms)
			}
		}
	}
	if tol := pb.OutcomeTolerance; tol != nil {
		if pay.Orders == 0 {
			miss("payments", "outcome_tolerance", *tol, 0, "no orders were placed")
		}
		for _, k := range Outcomes {
			if d := math.Abs(pay.Shares[k] - pay.Expected[k]); d > *tol+1e-12 {
				miss("payments", "outcome_tolerance", *tol, d, "%s %.1f%% of the orders, expected %.1f%% (± %.1f%%)",
					k, 100*pay.Shares[k], 100*pay.Expected[k], 100**tol)
			}
		}
	}
	return out
}
