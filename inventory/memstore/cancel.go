package memstore

import (
	"context"
	"fmt"

	"github.com/onsale/onsale/inventory"
)

// Cancel closes an event for good and releases up to limit of its live holds, earliest deadline first.
func (s *Store) Cancel(_ context.Context, event string, limit int) (int, bool, error) {
	if limit < 1 {
		return 0, false, fmt.Errorf("cancel %s: %w: limit %d", event, inventory.ErrInvalid, limit)
	}
	e, err := s.event(event)
	if err != nil {
		return 0, false, fmt.Errorf("cancel: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed.Store(true)
	now := s.now()
	e.reclaim(now, lazyReclaim)
	n := 0
	// A deadline passed beyond the lazy reclaim's reach expires, as a sweep would; it uses up the limit uncounted.
	for range limit {
		if len(e.due) == 0 {
			break
		}
		h := e.due[0]
		if passed(h, now) {
			e.free(h, inventory.Expired, now)
			continue
		}
		e.free(h, inventory.Released, now)
		n++
	}
	return n, len(e.due) > 0, nil
}
