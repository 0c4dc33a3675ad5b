package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what a run measured. Its JSON form is stable: dashboards and CI read it.
type Report struct {
	Started   time.Time `json:"started"`
	DurationS float64   `json:"duration_s"` // from the first arrival to the last fan done (or the run's limit)
	Base      string    `json:"base"`
	Event     string    `json:"event"`
	Created   bool      `json:"created"` // the run created the event
	Scenario  Scenario  `json:"scenario"`

	Fans      FanOutcomes      `json:"fans"`
	Totals    Totals           `json:"totals"`    // the sale's; the door phase has its own figures
	Endpoints []EndpointReport `json:"endpoints"` // the door phase's (refund, tickets, checkin) at the end
	Problems  map[string]int64 `json:"problems"`  // by problem type over all endpoints

	Payments  Payments    `json:"payments"`      // how the fans paid and how their orders ended
	QueueTime Percentiles `json:"queue_time_ms"` // join to admitted
	Lag       Percentiles `json:"lag_ms"`        // how late the generator ran fans' actions; high means it was the bottleneck
	SellOutS  *float64    `json:"sellout_s"`     // first sample with sold = capacity, from the first arrival; null if never
	// TailS is the time from the first few units left (a twentieth of the capacity) to sold out or nobody waiting.
	TailS *float64 `json:"tail_s"`
	// StallS is the longest time fans waited while units were buyable and no shopper had called for 20 s.
	StallS float64 `json:"stall_s"`

	Audit      Audit       `json:"audit"`
	Door       *DoorReport `json:"door,omitempty"` // the door phase (-door), after the sale
	Series     []Sample    `json:"series"`
	Violations []Violation `json:"violations,omitempty"` // filled by Execute when a budget was given
	Budget     *Budget     `json:"budget,omitempty"`
}

// Scenario is the part of the configuration that shaped the crowd.
type Scenario struct {
	Fans     int     `json:"fans"`
	Arrival  string  `json:"arrival"`
	WindowS  float64 `json:"window_s"`
	Rate     float64 `json:"rate,omitempty"`
	Quantity int     `json:"quantity"`
	Decline  float64 `json:"decline"`
	// Pay is the configured share of each payment path (browser takes what the others leave).
	Pay          map[string]float64 `json:"pay"`
	CheckoutTTLS float64            `json:"checkout_ttl_s"`
	SSE          float64            `json:"sse"`
	Workers      int                `json:"workers"`
	Capacity     int                `json:"capacity"`
	Sections     int                `json:"sections"`
	SeedUsed     uint64             `json:"seed"`
	RunID        string             `json:"run_id"`
	Abandon      [4]float64         `json:"abandon"` // queue, admitted, hold, checkout
}

// FanOutcomes counts fans by where they ended.
type FanOutcomes map[string]int64

// Totals are the sale's requests: every endpoint's but the door phase's.
type Totals struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	RPS       float64 `json:"rps"`
}

// Sample is one second (one sample period) of the run.
type Sample struct {
	T         float64                  `json:"t"` // seconds since the first arrival
	Endpoints map[Endpoint]WindowStats `json:"endpoints,omitempty"`
	Requests  int64                    `json:"requests"` // all endpoints, this window
	RPS       float64                  `json:"rps"`
	Stats     *EventStats              `json:"stats,omitempty"` // nil when the stats could not be read
	// Stalled: fans waited, units were buyable and no admitted fan had called for 20 s.
	Stalled bool             `json:"stalled,omitempty"`
	Fans    map[string]int64 `json:"fans"`
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report JSON: %w", err)
	}
	return nil
}

// Summary is a few lines for the terminal after a run.
func (r Report) Summary() string {
	s := fmt.Sprintf("event %s: %d fans in %.1f s, %d requests (%.0f/s), %d errors (%.3f%%)\n",
		r.Event, r.Scenario.Fans, r.DurationS, r.Totals.Requests, r.Totals.RPS, r.Totals.Errors, 100*r.Totals.ErrorRate)
	s += "fans:"
	for _, k := range fanStateNames {
		if n := r.Fans[k]; n > 0 {
			s += fmt.Sprintf(" %s %d", k, n)
		}
	}
	s += "\n"
	s += fmt.Sprintf("%-12s %9s %9s %8s %8s %8s %8s %8s\n", "endpoint", "requests", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, e := range r.Endpoints {
		s += fmt.Sprintf("%-12s %9d %9.1f %8d %8.1f %8.1f %8.1f %8.1f\n", e.Endpoint, e.Requests, e.RPS, e.Errors,
			e.Latency.P50, e.Latency.P95, e.Latency.P99, e.Latency.Max)
	}
	s += fmt.Sprintf("time in queue p50 %.0f ms, p95 %.0f ms, p99 %.0f ms; generator lag p99 %.1f ms\n",
		r.QueueTime.P50, r.QueueTime.P95, r.QueueTime.P99, r.Lag.P99)
	s += r.Payments.summary()
	if r.SellOutS != nil {
		s += fmt.Sprintf("sold out after %.1f s\n", *r.SellOutS)
	} else {
		s += "did not sell out\n"
	}
	if r.TailS != nil {
		s += fmt.Sprintf("tail %.1f s from few units left to the end; longest stall %.1f s\n", *r.TailS, r.StallS)
	}
	switch {
	case !r.Audit.Checked:
		s += "audit: not checked\n"
	case r.Audit.Passed:
		s += fmt.Sprintf("audit: passed (sold %d/%d, %d paid orders, %d units; %d late authorizations, none captured)\n",
			r.Audit.Sold, r.Audit.Capacity, r.Audit.PaidOrders, r.Audit.PaidUnits, r.Audit.LateOrders)
	default:
		s += "audit: FAILED\n"
		for _, f := range r.Audit.Failures {
			s += "  " + f + "\n"
		}
	}
	if r.Door != nil {
		s += r.Door.summary()
	}
	for _, v := range r.Violations {
		s += "budget missed: " + v.String() + "\n"
	}
	return s
}

// summary is the door phase's lines of the run's summary: the rate and latency, the answers by kind of scan
// against what each must get, and the door audit.
func (d DoorReport) summary() string {
	s := fmt.Sprintf("door: %d gates, %d tickets of %d paid orders (%d refunded), %d scans in %.1f s (%.1f/s, asked %.0f/s); "+
		"checkin p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", d.Gates, d.Tickets, d.PaidOrders, d.Refunded, d.Scans, d.DurationS,
		d.ScansPerS, d.Rate, d.Latency.P50, d.Latency.P95, d.Latency.P99)
	if len(d.Classes) > 0 {
		s += fmt.Sprintf("%-12s %7s  %-13s %s\n", "door scan", "scans", "must get", "got")
		for _, c := range d.Classes {
			var got []string
			for _, k := range sortedKeys(c.Got) {
				got = append(got, fmt.Sprintf("%s %d", k, c.Got[k]))
			}
			s += fmt.Sprintf("%-12s %7d  %-13s %s\n", c.Class, c.Scans, c.Expect, strings.Join(got, ", "))
		}
	}
	for _, n := range d.Notes {
		s += "door: " + n + "\n"
	}
	a := d.Audit
	switch {
	case !a.Checked && len(a.Failures) == 0:
		s += "door audit: not checked\n"
	case a.Passed:
		s += fmt.Sprintf("door audit: passed (%d valid tickets entered once each, checked_in +%d, inside +%d; %d unexpected answers)\n",
			a.Entered, a.StatsCheckedIn, a.StatsInside, a.Unexpected)
	default:
		s += "door audit: FAILED\n"
		for _, f := range a.Failures {
			s += "  " + f + "\n"
		}
	}
	return s
}

// summary is the payments' lines of the run's summary: the outcome mix against what the cards call for, the time
// to pay, and one line per payment path that had orders.
func (p Payments) summary() string {
	if p.Orders == 0 {
		return "payments: no orders\n"
	}
	s := fmt.Sprintf("payments: %d orders:", p.Orders)
	for _, k := range Outcomes {
		if n := p.Outcomes[k]; n > 0 || p.Expected[k] > 0 {
			s += fmt.Sprintf(" %s %d (%.1f%%, expected %.1f%%)", k, n, 100*p.Shares[k], 100*p.Expected[k])
		}
	}
	s += fmt.Sprintf("; %d unexpected\n", p.Unexpected)
	s += fmt.Sprintf("time to pay p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms (%d paid)\n",
		p.TimeToPay.P50, p.TimeToPay.P95, p.TimeToPay.P99, p.TimeToPay.Max, p.TimeToPay.Count)
	s += fmt.Sprintf("%-10s %-32s %7s  %-28s %9s %9s\n", "pay", "card", "orders", "outcomes", "p50 ms", "p95 ms")
	for _, pr := range p.Paths {
		if pr.Orders == 0 {
			continue
		}
		var outs []string
		for _, k := range Outcomes {
			if n := pr.Outcomes[k]; n > 0 {
				outs = append(outs, fmt.Sprintf("%s %d", k, n))
			}
		}
		p50, p95 := "-", "-" // nothing of this path was paid
		if pr.TimeToPay.Count > 0 {
			p50, p95 = fmt.Sprintf("%.0f", pr.TimeToPay.P50), fmt.Sprintf("%.0f", pr.TimeToPay.P95)
		}
		s += fmt.Sprintf("%-10s %-32s %7d  %-28s %9s %9s\n", pr.Path, pr.Card, pr.Orders, strings.Join(outs, ", "), p50, p95)
	}
	return s
}
