package memstore

import (
	"context"
	"fmt"

	"github.com/onsale/onsale/inventory"
)

// ReleaseWave makes withheld units buyable, once per wave id. Each section's release is capped at what is still
// withheld; a seated section frees its withheld seats from the front.
func (s *Store) ReleaseWave(_ context.Context, event, wave string, release map[string]int) error {
	e, err := s.event(event)
	if err != nil {
		return fmt.Errorf("release wave: %w", err)
	}
	if wave == "" {
		return fmt.Errorf("release wave: %w: empty wave id", inventory.ErrInvalid)
	}
	for id, n := range release {
		if _, ok := e.secIdx[id]; !ok {
			return fmt.Errorf("release wave %s: %w: unknown section %q", wave, inventory.ErrInvalid, id)
		}
		if n < 0 {
			return fmt.Errorf("release wave %s: %w: section %q: %d units", wave, inventory.ErrInvalid, id, n)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reclaim(s.now(), lazyReclaim)
	if _, done := e.waves[wave]; done {
		return nil
	}
	for _, sec := range e.secs {
		k := min(release[sec.def.ID], sec.withheld)
		if k == 0 {
			continue
		}
		if sec.seats != nil {
			first := sec.def.Capacity - sec.withheld
			for i := first; i < first+k; i++ {
				sec.setSeat(i, seatFree)
			}
		}
		sec.withheld -= k
		sec.available += k
		sec.version++
	}
	e.waves[wave] = struct{}{}
	return nil
}
