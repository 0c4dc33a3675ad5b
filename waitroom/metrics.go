package waitroom

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the waiting room. Queued, active and the measured rate are set by the process that holds the
// event's controller lease (and dropped when it loses it), so summing over processes counts each event once.
type metrics struct {
	queued    *prometheus.GaugeVec
	active    *prometheus.GaugeVec
	paused    *prometheus.GaugeVec
	admitted  *prometheus.CounterVec
	rate      *prometheus.GaugeVec
	joins     *prometheus.CounterVec
	queueWait *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		queued: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "onsale_waitroom_queued", Help: "Fans waiting for a place that can be served (pre-queue included; 0 once closed as sold out), per event.",
		}, []string{"event"})),
		active: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "onsale_waitroom_active", Help: "Admitted fans still counted as shopping, per event.",
		}, []string{"event"})),
		paused: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "onsale_waitroom_paused",
			Help: "1 while the organizer has paused admission, else 0, per event (so a stalled-admission alert can tell).",
		}, []string{"event"})),
		admitted: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onsale_waitroom_admitted_total", Help: "Places admitted by the controller, per event.",
		}, []string{"event"})),
		rate: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "onsale_waitroom_admit_rate_per_min", Help: "Measured admission rate (moving average), per event.",
		}, []string{"event"})),
		joins: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onsale_waitroom_joins_total", Help: "New places given, per event.",
		}, []string{"event"})),
		queueWait: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "onsale_waitroom_queue_wait_seconds",
			Help:    "Time from join to the first claim of access, per event.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		}, []string{"event"})),
	}
}

// register registers c, or returns the collector already registered under the same name (several Rooms in one
// process, as in tests, share them).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A conflicting registration is a programming error in the wiring; keep the unregistered collector so the
		// room still works.
	}
	return c
}

func (m *metrics) forget(event string) {
	m.queued.DeleteLabelValues(event)
	m.active.DeleteLabelValues(event)
	m.paused.DeleteLabelValues(event)
	m.rate.DeleteLabelValues(event)
}
