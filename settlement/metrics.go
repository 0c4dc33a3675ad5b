package settlement

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the saga's Prometheus series (names from the project's shared list).
type metrics struct {
	orders      *prometheus.CounterVec
	lag         prometheus.Histogram
	outbox      prometheus.Gauge
	deadLetters prometheus.Counter
	payments    *prometheus.CounterVec
	refunds     prometheus.Counter
	webhooks    *prometheus.CounterVec

	lateCancels, captureFailures prometheus.Counter
	oversold                     prometheus.Counter

	refundFailures, cancelRefunds, cancelErrors prometheus.Counter

	// The series every order moves, looked up once: a vector's lookup hashes the label under a lock each time.
	byStatus                                     map[Status]prometheus.Counter
	paymentsSucceeded, paymentsFailed, payErrors prometheus.Counter
}

// ordersIn counts an order moved into status st.
func (m *metrics) ordersIn(st Status) {
	if c, ok := m.byStatus[st]; ok {
		c.Inc()
		return
	}
	m.orders.WithLabelValues(string(st)).Inc()
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &metrics{
		orders: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onsale_settlement_orders_total", Help: "Orders moved into each status.",
		}, []string{"status"})),
		lag: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onsale_settlement_lag_seconds",
			Help:    "Time from checkout to the order's outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		})),
		outbox: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "onsale_settlement_outbox_pending", Help: "Outbox rows not yet confirmed by the broker.",
		})),
		deadLetters: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_dead_letters_total", Help: "Messages parked after their last attempt.",
		})),
		payments: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onsale_settlement_payments_total", Help: "Payment attempts by result (succeeded, failed, error).",
		}, []string{"result"})),
		refunds: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_refunds_total", Help: "Captured payments given back.",
		})),
		webhooks: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onsale_settlement_webhooks_total",
			Help: "Payment events (Stripe webhooks, the test provider's notices) by result: applied, duplicate, unknown (not an order's payment), ignored, bad-signature.",
		}, []string{"result"})),
		lateCancels: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_late_authorizations_total",
			Help: "Authorizations cancelled, never captured, because the order's hold had ended first.",
		})),
		captureFailures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_capture_failures_total",
			Help: "Authorizations that could not be captured after the seats were sold; the seats went back on sale.",
		})),
		oversold: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_oversold_refused_total",
			Help: "Paid transitions the ledger refused (a seat sold twice, a section past its capacity); the money went back.",
		})),
		refundFailures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_refund_failures_total",
			Help: "Refund attempts that failed; each is retried until the money is back.",
		})),
		cancelRefunds: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_cancellation_refunds_total",
			Help: "Refunds asked for by cancelled events' jobs.",
		})),
		cancelErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onsale_settlement_cancellation_errors_total",
			Help: "Cancellation job steps that failed and will be retried.",
		})),
	}
	m.byStatus = map[Status]prometheus.Counter{}
	for _, st := range []Status{Pending, Paying, RequiresAction, Paid, Failed, Refunded} {
		m.byStatus[st] = m.orders.WithLabelValues(string(st))
	}
	m.paymentsSucceeded = m.payments.WithLabelValues("succeeded")
	m.paymentsFailed = m.payments.WithLabelValues("failed")
	m.payErrors = m.payments.WithLabelValues("error")
	return m
}

// register registers c, or returns the collector already registered under the same name, so that several
// services in one process (tests, or one per role) share the series instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
