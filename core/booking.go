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

// FinishOnSettled returns a settlement.Options.OnBooking hook that frees a fan's active slot in the waiting room
// once an order of theirs reaches a final state (paid, failed or refunded), so the next tick can admit someone
// else instead of waiting out the fan's idle time or access token. A fan whose payment failed keeps a valid
// access token and may try again; being freed only lets another fan in.
func FinishOnSettled(room Finisher, log *slog.Logger) func(context.Context, settlement.BookingEvent) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev settlement.BookingEvent) {
		if !ev.Status.Terminal() {
			return
		}
		if err := room.Finished(ctx, ev.Event, ev.Fan); err != nil {
			log.Warn("free the active slot of a fan whose order settled", slog.String("event", ev.Event),
				slog.String("status", string(ev.Status)), slog.Any("err", err))
		}
	}
}
