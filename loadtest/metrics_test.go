package loadtest

import (
	"math"
	"testing"
	"time"
)

func TestPercentilesOfKnownLatencies(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	// 1..1000 ms, once each: p50 = 500 ms, p95 = 950 ms, p99 = 990 ms, max = 1000 ms.
	for i := 1; i <= 1000; i++ {
		problem := ""
		if i%100 == 0 {
			problem = "unavailable"
		} else if i%50 == 0 {
			problem = "sold-out" // expected under contention: not an error
		}
		r.record(EpHold, time.Duration(i)*time.Millisecond, 201, problem)
	}
	eps := r.endpointReports(10 * time.Second)
	if len(eps) != 1 {
		t.Fatalf("endpoints %v", eps)
	}
	e := eps[0]
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.001+0.001 } // 3 significant digits
	if !near(e.Latency.P50, 500) || !near(e.Latency.P95, 950) || !near(e.Latency.P99, 990) || !near(e.Latency.Max, 1000) {
		t.Errorf("latency %+v, want p50 500 p95 950 p99 990 max 1000", e.Latency)
	}
	if e.Requests != 1000 || e.RPS != 100 || e.Errors != 10 || e.ErrorRate != 0.01 {
		t.Errorf("counts %+v", e)
	}
	if e.Problems["unavailable"] != 10 || e.Problems["sold-out"] != 10 {
		t.Errorf("problems %v", e.Problems)
	}
}

func TestWindowsStartAfresh(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	r.record(EpJoin, 900*time.Millisecond, 201, "")
	w := r.takeWindow()
	if w[EpJoin].Requests != 1 || w[EpJoin].MaxMs < 899 {
		t.Fatalf("first window %+v", w)
	}
	r.record(EpJoin, 2*time.Millisecond, 201, "")
	r.record(EpJoin, 0, 0, ProblemTimeout)
	w = r.takeWindow()
	if w[EpJoin].Requests != 2 || w[EpJoin].Errors != 1 || w[EpJoin].MaxMs > 3 {
		t.Fatalf("second window kept the first's values: %+v", w[EpJoin])
	}
	if w := r.takeWindow(); len(w) != 0 {
		t.Fatalf("empty window %+v", w)
	}
	req, errs := r.totals()
	if req != 3 || errs != 1 {
		t.Fatalf("totals %d %d", req, errs)
	}
}

func TestOutOfRangeLatenciesAreClamped(t *testing.T) {
	t.Parallel()
	d := newDurationHist()
	d.add(-time.Second)
	d.add(time.Hour)
	p := d.percentiles()
	if p.Count != 2 || p.Max < 119_000 {
		t.Fatalf("%+v", p)
	}
	if (newDurationHist()).percentiles() != (Percentiles{}) {
		t.Fatal("empty histogram has percentiles")
	}
}
