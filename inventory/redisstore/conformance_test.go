package redisstore

import (
	"testing"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/inventorytest"
)

// TestConformance runs the shared inventory suite on real Redis, one key prefix per case.
func TestConformance(t *testing.T) {
	t.Parallel()
	inventorytest.Run(t, func(t *testing.T) inventory.Store {
		return newBundle(t, Options{}).s
	})
}

// TestConcurrency runs the shared stress test: 1,000 goroutines holding, releasing, checking out, confirming and
// abandoning holds on one event, then the invariants and Audit.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	inventorytest.RunConcurrency(t, func(t *testing.T) inventory.Store {
		return newBundle(t, Options{}).s
	}, 1000)
}
