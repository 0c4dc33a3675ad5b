package loadtest_test

import (
	"fmt"
	"time"

	"github.com/onsale/onsale/loadtest"
)

// A report is checked against a budget; every missed threshold is a violation, and the binary exits with status 1
// when there is any.
func ExampleReport_Check() {
	budget, err := loadtest.ParseBudget([]byte(`{
		"endpoints": {"hold": {"p99_ms": 250, "error_rate": 0.001}},
		"overall": {"min_rps": 100, "audit_must_pass": true}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	report := loadtest.Report{
		Endpoints: []loadtest.EndpointReport{{Endpoint: loadtest.EpHold, Requests: 1000, Errors: 3, ErrorRate: 0.003,
			Latency: loadtest.Percentiles{Count: 1000, P50: 4, P95: 90, P99: 310, Max: 700}}},
		Totals: loadtest.Totals{Requests: 1000, RPS: 120},
		Audit:  loadtest.Audit{Checked: true, Passed: true},
	}
	for _, v := range report.Check(budget) {
		fmt.Println(v)
	}
	// Output:
	// hold p99_ms: p99 310.0 ms > 250.0 ms
	// hold error_rate: error rate 0.0030 > 0.0010 (3 of 1000)
}

// ParseCurve says when each fan arrives: a spike puts most of the crowd at the opening.
func ExampleCurve_At() {
	spike, _ := loadtest.ParseCurve("spike", 1000, 10*time.Second, 0)
	for _, i := range []int{0, 250, 500, 750, 999} {
		fmt.Printf("fan %d arrives at %.2fs\n", i, spike.At(i).Seconds())
	}
	// Output:
	// fan 0 arrives at 0.00s
	// fan 250 arrives at 0.57s
	// fan 500 arrives at 1.37s
	// fan 750 arrives at 2.73s
	// fan 999 arrives at 9.72s
}
