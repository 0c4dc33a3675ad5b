package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/inventorytest"
	"github.com/onsale/onsale/inventory/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStore(*testing.T) inventory.Store { return memstore.New(memstore.Options{}) }

func TestConformance(t *testing.T) { inventorytest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { inventorytest.RunConcurrency(t, newStore, 1000) }
