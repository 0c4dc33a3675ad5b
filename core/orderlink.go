package core

import (
	"net/url"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/tickets"
)

// OrderLink returns what makes the link booking events carry to a fan's order page: base (the public URL the
// site is served at; empty gives a path) + /o/{order}?t=<order_token>, with the order token a server configured
// with the same ticket key accepts.
func OrderLink(ticketKey []byte, base string) (func(settlement.Order) string, error) {
	ot, err := tickets.NewOrderTokens(derive(ticketKey, orderTokenLabel))
	if err != nil {
		return nil, err
	}
	return func(o settlement.Order) string {
		return base + "/o/" + url.PathEscape(o.ID) + "?t=" + url.QueryEscape(ot.Issue(o.ID))
	}, nil
}
