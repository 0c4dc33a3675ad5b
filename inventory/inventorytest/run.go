package inventorytest

import (
	"testing"

	"github.com/onsale/onsale/inventory"
)

// testCase is one conformance case; it gets a fresh store and runs in parallel with the others.
type testCase struct {
	name string
	run  func(f *fixture)
}

// Run runs the conformance suite against stores made by newStore (called once per case).
func Run(t *testing.T, newStore func(t *testing.T) inventory.Store) {
	groups := [][]testCase{eventCases, holdCases, seatCases, lifecycleCases, returnCases, cancelCases, expiryCases, waveCases, restoreCases}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) {
				c.run(setup(t, newStore))
			})
		}
	}
}
