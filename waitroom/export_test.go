package waitroom

import "context"

// TickForTest runs one admission tick of event now, so tests drive the controller step by step.
func (r *Room) TickForTest(ctx context.Context, event string) error {
	return r.tick(ctx, r.event(event))
}

// RefreshForTest refreshes this process's snapshot of event, as Run does every Refresh.
func (r *Room) RefreshForTest(ctx context.Context, event string) error {
	_, err := r.load(ctx, r.event(event))
	r.flushQuiet(ctx)
	return err
}
