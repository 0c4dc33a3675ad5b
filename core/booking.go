package core

import (
	"context"
	"log/slog"

	"github.com/onsale/onsale/settlement"
)

// Finisher is the part of the waiting room that hears a fan's shopping is over.
type Finisher interface {
	Finished(ctx context.Context, event, fan string) error
}

// FinishOnPaid returns a settlement.Options.OnBooking hook that frees a fan's active slot in the waiting room
// once its order is paid, so the next tick can admit someone else instead of waiting out the access token.
func FinishOnPaid(room Finisher, log *slog.Logger) func(context.Context, settlement.BookingEvent) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev settlement.BookingEvent) {
		if ev.Status != settlement.Paid {
			return
		}
		if err := room.Finished(ctx, ev.Event, ev.Fan); err != nil {
			log.Warn("free the active slot of a fan who paid", slog.String("event", ev.Event), slog.Any("err", err))
		}
	}
}
