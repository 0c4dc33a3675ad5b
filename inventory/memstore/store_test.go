package memstore_test

import (
	"flag"
	"testing"

	"go.uber.org/goleak"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/inventorytest"
	"github.com/onsale/onsale/inventory/memstore"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The model test needs longer runs than rapid's defaults to reach deadlines and caps; flags still override.
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, value := range map[string]string{"rapid.checks": "400", "rapid.steps": "100"} {
		if !set[name] {
			_ = flag.Set(name, value)
		}
	}
	goleak.VerifyTestMain(m)
}

func newStore(*testing.T) inventory.Store { return memstore.New(memstore.Options{}) }

func TestConformance(t *testing.T) { inventorytest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { inventorytest.RunConcurrency(t, newStore, 1000) }
