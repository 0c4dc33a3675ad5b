package redisstore

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the Redis adapter; several stores on one registry share them.
type metrics struct {
	batchSize prometheus.Histogram
	roundtrip prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		batchSize: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onsale_inventory_hold_batch_size",
			Help:    "Holds sent to Redis in one round trip.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		})),
		roundtrip: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onsale_inventory_redis_roundtrip_seconds",
			Help:    "Duration of one inventory round trip to Redis (a script call or a pipeline of holds).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14),
		})),
	}
}

// register registers h, or returns the histogram already registered under its name.
func register(reg prometheus.Registerer, h prometheus.Histogram) prometheus.Histogram {
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(prometheus.Histogram); ok {
				return old
			}
		}
		// A clash of another kind (same name, other help or buckets) leaves the metric unexported rather than failing.
		return h
	}
	return h
}
