package core

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the core's Prometheus series (names shared with the dashboards; see the project's metric list).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight atomic.Int64 // read by the onsale_http_inflight_requests gauge at scrape time

	backendUp *prometheus.GaugeVec

	units        *prometheus.GaugeVec // inventory units by event, section, state
	auditDiffs   *prometheus.GaugeVec
	expired      prometheus.Counter
	holdsCreated prometheus.Counter
	holds        map[string]prometheus.Counter // by result
	scans        *prometheus.CounterVec        // check-in scans by result
	connsRefused prometheus.Counter

	mu     sync.Mutex
	others map[string]*routeMetrics // 405s by pattern
}

// Hold results, the label values of onsale_inventory_holds_total.
const (
	holdCreated          = "created"
	holdSoldOut          = "sold_out"
	holdSeatsUnavailable = "seats_unavailable"
	holdLimitExceeded    = "limit_exceeded"
	holdInvalid          = "invalid"
	holdError            = "error"
)

var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer, patterns []*pattern, pool func() PoolStats, checks []Check) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "onsale_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "onsale_http_request_duration_seconds",
			Help: "Time to answer an HTTP request.", Buckets: durationBuckets}, []string{"route", "method"}),
		backendUp: f.NewGaugeVec(prometheus.GaugeOpts{Name: "onsale_backend_up",
			Help: "1 when the backend answered its last readiness probe, 0 when not."}, []string{"backend"}),
		units: f.NewGaugeVec(prometheus.GaugeOpts{Name: "onsale_inventory_units",
			Help: "Inventory units by event, section and state (available, held, sold, withheld)."},
			[]string{"event", "section", "state"}),
		auditDiffs: f.NewGaugeVec(prometheus.GaugeOpts{Name: "onsale_inventory_audit_differences",
			Help: "Differences the last inventory audit found between counters and holds; 0 is healthy."},
			[]string{"event"}),
		expired: f.NewCounter(prometheus.CounterOpts{Name: "onsale_inventory_expired_total",
			Help: "Holds the sweeper expired after their deadline."}),
		scans: f.NewCounterVec(prometheus.CounterOpts{Name: "onsale_checkin_scans_total",
			Help: "Check-in scans by result (ok, already-used, revoked, invalid, wrong-event)."}, []string{"result"}),
		connsRefused: f.NewCounter(prometheus.CounterOpts{Name: "onsale_http_connections_refused_total",
			Help: "Connections refused because their address was at the per-address cap."}),
		holds:  map[string]prometheus.Counter{},
		others: map[string]*routeMetrics{},
	}
	// An integer counted per request and read at scrape, rather than a Gauge's compare-and-swap on a float twice per
	// request.
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "onsale_http_inflight_requests", Help: "HTTP requests being answered now."},
		func() float64 { return float64(m.inflight.Load()) })
	holds := f.NewCounterVec(prometheus.CounterOpts{Name: "onsale_inventory_holds_total",
		Help: "Hold requests by result."}, []string{"result"})
	for _, r := range []string{holdCreated, holdSoldOut, holdSeatsUnavailable, holdLimitExceeded, holdInvalid, holdError} {
		m.holds[r] = holds.WithLabelValues(r)
	}
	m.holdsCreated = m.holds[holdCreated]
	for _, c := range checks {
		m.backendUp.WithLabelValues(c.Name)
	}
	if pool != nil {
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: "onsale_redis_pool_connections", Help: "Redis pool connections.",
			ConstLabels: prometheus.Labels{"state": "total"}}, func() float64 { return float64(pool().Total) })
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: "onsale_redis_pool_connections", Help: "Redis pool connections.",
			ConstLabels: prometheus.Labels{"state": "idle"}}, func() float64 { return float64(pool().Idle) })
		f.NewCounterFunc(prometheus.CounterOpts{Name: "onsale_redis_pool_timeouts_total",
			Help: "Times a Redis command waited too long for a pool connection."}, func() float64 { return float64(pool().Timeouts) })
	}
	for _, p := range patterns {
		for _, r := range p.routes {
			if r != nil {
				r.metrics = m.route(r.name, r.method)
				r.metrics.counter(successCode(p.name, r.method)) // the series exist before traffic
			}
		}
	}
	return m
}

// successCode is the status a route answers when all goes well, for pre-initialising its series.
func successCode(name, method string) int {
	switch {
	case name == "unmatched":
		return 404
	case method == "DELETE", method == "OPTIONS":
		return 204
	case name == "/v1/holds/{hold}/checkout":
		return 202
	case method == "POST" && name != "/v1/webhooks/stripe":
		return 201
	}
	return 200
}

// routeMetrics are one route's series, resolved once so that answering a request does no label lookup.
type routeMetrics struct {
	route, method string
	vec           *prometheus.CounterVec
	hist          prometheus.Observer
	codes         [500]atomic.Pointer[prometheus.Counter] // status 100..599
}

func (m *metrics) route(name, method string) *routeMetrics {
	return &routeMetrics{route: name, method: method, vec: m.requests, hist: m.duration.WithLabelValues(name, method)}
}

// other returns the metrics of requests with a method a pattern does not answer.
func (m *metrics) other(name string) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.others[name]
	if !ok {
		r = m.route(name, "other")
		m.others[name] = r
	}
	return r
}

func (r *routeMetrics) counter(code int) prometheus.Counter {
	if code < 100 || code > 599 {
		return r.vec.WithLabelValues(r.route, r.method, strconv.Itoa(code))
	}
	slot := &r.codes[code-100]
	if c := slot.Load(); c != nil {
		return *c
	}
	c := r.vec.WithLabelValues(r.route, r.method, strconv.Itoa(code))
	slot.Store(&c)
	return c
}

func (r *route) observe(code int, d time.Duration) {
	r.metrics.counter(code).Inc()
	r.metrics.hist.Observe(d.Seconds())
}

func (m *metrics) holdResult(result string) { m.holds[result].Inc() }
