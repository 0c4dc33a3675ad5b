package loadtest

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Endpoint names what a request was for; budgets and reports speak of these names.
type Endpoint string

// The endpoints the generator measures.
const (
	EpJoin         Endpoint = "join"         // POST /v1/events/{event}/queue
	EpPoll         Endpoint = "poll"         // GET /v1/events/{event}/queue
	EpStream       Endpoint = "stream"       // GET /v1/events/{event}/queue/stream (time to the response head)
	EpLeave        Endpoint = "leave"        // DELETE /v1/events/{event}/queue
	EpHold         Endpoint = "hold"         // POST /v1/events/{event}/holds
	EpRelease      Endpoint = "release"      // DELETE /v1/holds/{hold}
	EpCheckout     Endpoint = "checkout"     // POST /v1/holds/{hold}/checkout
	EpConfirm      Endpoint = "confirm"      // POST /v1/test-payments/{payment_intent}/confirm (the fan's page)
	EpAuthenticate Endpoint = "authenticate" // POST /v1/test-payments/{payment_intent}/authenticate (3-D Secure)
	EpOrder        Endpoint = "order"        // GET /v1/orders/{order}
	EpAdminEvent   Endpoint = "admin_event"  // POST or GET /v1/admin/events[/{event}]
	EpAdminStats   Endpoint = "admin_stats"  // GET /v1/admin/events/{event}/stats
	// The door phase's (after the sale):
	EpRefund      Endpoint = "refund"  // POST /v1/admin/orders/{order}/refund
	EpTickets     Endpoint = "tickets" // GET /v1/orders/{order} with the order token, for its tickets
	EpCheckin     Endpoint = "checkin" // POST /v1/events/{event}/checkin
	endpointCount          = 15
)

// Endpoints lists every endpoint in report order.
var Endpoints = [endpointCount]Endpoint{EpJoin, EpPoll, EpStream, EpLeave, EpHold, EpRelease, EpCheckout, EpConfirm,
	EpAuthenticate, EpOrder, EpAdminEvent, EpAdminStats, EpRefund, EpTickets, EpCheckin}

// doorEndpoint reports whether an endpoint is the door phase's: its rate is over the door phase, and the sale's
// totals leave it out.
func doorEndpoint(e Endpoint) bool { return e == EpRefund || e == EpTickets || e == EpCheckin }

func endpointIndex(e Endpoint) int {
	for i, x := range Endpoints {
		if x == e {
			return i
		}
	}
	return -1
}

// Problem types the generator records besides the server's own problem+json slugs.
const (
	ProblemTimeout    = "timeout"    // no answer within the request timeout
	ProblemConnection = "connection" // could not connect, or the connection broke
	ProblemUndecoded  = "undecoded"  // a 2xx answer the generator could not read
)

// expectedProblem reports whether a problem is an answer the contract promises under contention (not a failure of
// the server): a sold-out hold, a taken seat, an expired hold at checkout.
func expectedProblem(typ string) bool {
	switch typ {
	case "sold-out", "seats-unavailable", "hold-expired":
		return true
	}
	return false
}

// Latencies are recorded in microseconds from 1 µs to 2 minutes with 3 significant digits.
const (
	histMin     = 1
	histMax     = int64(2 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

// endpointStats accumulates one endpoint's requests for the whole run and for the current sample window.
type endpointStats struct {
	mu       sync.Mutex
	all      *hdrhistogram.Histogram
	window   *hdrhistogram.Histogram
	requests int64
	errors   int64
	winReqs  int64
	winErrs  int64
	problems map[string]int64
	statuses map[int]int64
}

// recorder is the generator's measurements; every method is safe for concurrent use.
type recorder struct {
	eps [endpointCount]*endpointStats
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.eps {
		r.eps[i] = &endpointStats{all: newHist(), window: newHist(), problems: map[string]int64{}, statuses: map[int]int64{}}
	}
	return r
}

// record counts one request: its latency, its status (0 when no answer came) and its problem type ("" when fine).
func (r *recorder) record(e Endpoint, d time.Duration, status int, problem string) {
	r.recordAs(e, d, status, problem, problem != "" && !expectedProblem(problem))
}

// recordAs counts one request as failed or not, whatever its problem type says.
func (r *recorder) recordAs(e Endpoint, d time.Duration, status int, problem string, failed bool) {
	i := endpointIndex(e)
	if i < 0 {
		return
	}
	us := max(d.Microseconds(), histMin)
	s := r.eps[i]
	s.mu.Lock()
	_ = s.all.RecordValue(min(us, histMax)) // clamped into range, so it cannot fail
	_ = s.window.RecordValue(min(us, histMax))
	s.requests++
	s.winReqs++
	if failed {
		s.errors++
		s.winErrs++
	}
	if problem != "" {
		s.problems[problem]++
	}
	s.statuses[status]++
	s.mu.Unlock()
}

// fail counts a failure found after the request was recorded (an answer that could not be read).
func (r *recorder) fail(e Endpoint, problem string) {
	i := endpointIndex(e)
	if i < 0 {
		return
	}
	s := r.eps[i]
	s.mu.Lock()
	s.errors++
	s.winErrs++
	s.problems[problem]++
	s.mu.Unlock()
}

// WindowStats are one endpoint's requests during one sample window.
type WindowStats struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// takeWindow returns each endpoint's window since the last call and starts a new one.
func (r *recorder) takeWindow() map[Endpoint]WindowStats {
	out := make(map[Endpoint]WindowStats, endpointCount)
	for i, s := range r.eps {
		s.mu.Lock()
		if s.winReqs > 0 || s.winErrs > 0 {
			p := percentilesOf(s.window)
			out[Endpoints[i]] = WindowStats{Requests: s.winReqs, Errors: s.winErrs, P50Ms: p.P50, P95Ms: p.P95, P99Ms: p.P99, MaxMs: p.Max}
			s.window.Reset() // only when used: a reset clears the whole counts array
		}
		s.winReqs, s.winErrs = 0, 0
		s.mu.Unlock()
	}
	return out
}

// totals returns requests and failed requests over all endpoints so far.
func (r *recorder) totals() (requests, errors int64) {
	for _, s := range r.eps {
		s.mu.Lock()
		requests += s.requests
		errors += s.errors
		s.mu.Unlock()
	}
	return requests, errors
}

// EndpointReport is one endpoint's figures for the whole run.
type EndpointReport struct {
	Endpoint  Endpoint         `json:"endpoint"`
	Requests  int64            `json:"requests"`
	RPS       float64          `json:"rps"`
	Errors    int64            `json:"errors"`     // timeouts, broken connections, 5xx and unexpected 4xx
	ErrorRate float64          `json:"error_rate"` // Errors / Requests
	Latency   Percentiles      `json:"latency_ms"`
	Problems  map[string]int64 `json:"problems,omitempty"` // by problem type, expected ones (sold-out …) included
	Statuses  map[int]int64    `json:"statuses,omitempty"` // by HTTP status; 0 is no answer
}

// endpointReports summarises every endpoint that saw a request, over a run of the given length.
func (r *recorder) endpointReports(elapsed time.Duration) []EndpointReport {
	var out []EndpointReport
	for i, s := range r.eps {
		s.mu.Lock()
		if s.requests > 0 {
			er := EndpointReport{
				Endpoint:  Endpoints[i],
				Requests:  s.requests,
				Errors:    s.errors,
				ErrorRate: float64(s.errors) / float64(s.requests),
				Latency:   percentilesOf(s.all),
				Problems:  maps.Clone(s.problems),
				Statuses:  maps.Clone(s.statuses),
			}
			if elapsed > 0 {
				er.RPS = float64(s.requests) / elapsed.Seconds()
			}
			out = append(out, er)
		}
		s.mu.Unlock()
	}
	return out
}

// Percentiles of a distribution, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// percentilesOf reads a histogram of microseconds as milliseconds.
func percentilesOf(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	v := h.ValueAtPercentilesSlice([]float64{50, 95, 99})
	return Percentiles{Count: h.TotalCount(), P50: ms(v[0]), P95: ms(v[1]), P99: ms(v[2]), Max: ms(h.Max())}
}

// durationHist is a concurrency-safe histogram of durations (time in queue, scheduling lag).
type durationHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newDurationHist() *durationHist { return &durationHist{h: newHist()} }

func (d *durationHist) add(v time.Duration) {
	us := min(max(v.Microseconds(), histMin), histMax)
	d.mu.Lock()
	_ = d.h.RecordValue(us)
	d.mu.Unlock()
}

func (d *durationHist) percentiles() Percentiles {
	d.mu.Lock()
	defer d.mu.Unlock()
	return percentilesOf(d.h)
}

// problemTotals sums the problem counts of all endpoints.
func problemTotals(eps []EndpointReport) map[string]int64 {
	out := map[string]int64{}
	for _, e := range eps {
		for k, v := range e.Problems {
			out[k] += v
		}
	}
	return out
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
