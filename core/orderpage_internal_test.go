package core

import (
	"strings"
	"testing"

	"github.com/onsale/onsale/settlement"
)

// TestOrderNote: the order page says why an order failed or was refunded in a fan's words, for every reason the
// saga decides and every decline the test provider gives, and something sensible for a code it does not know.
func TestOrderNote(t *testing.T) {
	for _, c := range []struct {
		o    settlement.Order
		want string
	}{
		{settlement.Order{Status: settlement.Failed, FailureReason: settlement.ReasonHoldExpired}, "hold on the tickets had ended"},
		{settlement.Order{Status: settlement.Failed, FailureReason: settlement.ReasonCaptureFailed}, "could not be completed"},
		{settlement.Order{Status: settlement.Failed, FailureReason: settlement.ReasonEventCancelled}, "event was cancelled"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "card_declined"}, "Your card was declined."},
		{settlement.Order{Status: settlement.Failed, FailureReason: "fraudulent"}, "Your card was declined."},
		{settlement.Order{Status: settlement.Failed, FailureReason: "insufficient_funds"}, "insufficient funds"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "expired_card"}, "expired"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "incorrect_cvc"}, "security code"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "payment_intent_authentication_failure"}, "3-D Secure"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "canceled"}, "cancelled"},
		{settlement.Order{Status: settlement.Failed, FailureReason: "do_not_honor"}, "did not go through (do_not_honor)"},
		{settlement.Order{Status: settlement.Refunded, RefundReason: settlement.RefundByOrganizer}, "The organizer refunded"},
		{settlement.Order{Status: settlement.Refunded, RefundReason: settlement.RefundAtProvider}, "payment was refunded"},
		{settlement.Order{Status: settlement.Refunded, RefundReason: settlement.ReasonEventCancelled}, "event was cancelled"},
		{settlement.Order{Status: settlement.Refunded, FailureReason: settlement.ReasonOversold}, "no ticket was issued"},
		{settlement.Order{Status: settlement.Paid, RefundRequested: true, RefundReason: settlement.RefundByOrganizer}, "on its way back"},
		{settlement.Order{Status: settlement.Paid}, ""},
	} {
		got := orderNote(c.o)
		if c.want == "" && strings.TrimSpace(got) != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s %q/%q: %q, want it to say %q", c.o.Status, c.o.FailureReason, c.o.RefundReason, got, c.want)
		}
		if c.o.Status == settlement.Failed && !strings.Contains(got, "No money was taken") {
			t.Errorf("failed %q: %q does not say no money was taken", c.o.FailureReason, got)
		}
	}
}
