package core

import (
	"context"
	"fmt"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/waitroom"
)

// Stock adapts an inventory to what the waiting room asks of it (waitroom.Stock): how much is left to sell, so
// admission stops at sell-out, and the release of a wave's withheld units.
type Stock struct{ Inventory inventory.Store }

var _ waitroom.Stock = Stock{}

// Remaining returns the units buyable now and the units held.
func (s Stock) Remaining(ctx context.Context, event string) (available, held int, err error) {
	st, err := s.Inventory.Stats(ctx, event)
	if err != nil {
		return 0, 0, fmt.Errorf("remaining stock of %s: %w", event, err)
	}
	t := st.Totals()
	return t.Available, t.Held, nil
}

// ReleaseWave makes a wave's withheld units buyable.
func (s Stock) ReleaseWave(ctx context.Context, event, wave string, release map[string]int) error {
	return s.Inventory.ReleaseWave(ctx, event, wave, release)
}
