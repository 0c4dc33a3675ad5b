package core

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// A handler answers one route; arg is the path's one variable part (an event, hold or order id), if any.
// It returns an error to answer with a problem.
type handler func(ctx *fasthttp.RequestCtx, arg string) error

// method indexes the methods the API uses.
type method uint8

const (
	mGET method = iota
	mPOST
	mDELETE
	mPATCH
	mHEAD
	mOPTIONS
	nMethods
	mOther = nMethods
)

var methodNames = [nMethods]string{"GET", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}

func methodOf(m []byte) method {
	switch string(m) { // no allocation: the compiler compares bytes
	case "GET":
		return mGET
	case "POST":
		return mPOST
	case "DELETE":
		return mDELETE
	case "PATCH":
		return mPATCH
	case "HEAD":
		return mHEAD
	case "OPTIONS":
		return mOPTIONS
	}
	return mOther
}

// pattern is one path shape of the API with a handler per method; name labels its metrics.
type pattern struct {
	name    string
	routes  [nMethods]*route
	allowed string // for 405's Allow header
}

// route is a pattern with one method.
type route struct {
	name    string
	method  string
	h       handler
	metrics *routeMetrics
	cors    bool // a fan API route (corsPatterns)
	rawBody bool // the body need not be JSON (the webhook verifies Stripe's bytes)
}

// Path ids, in the order match returns them.
const (
	pHealthz = iota
	pReadyz
	pMetrics
	pPage
	pOrderPage
	pOrderPDF
	pAdminPage
	pDocs
	pOpenAPI
	pOpenAPIJSON
	pAdminEvents
	pAdminEvent
	pAdminAdmission
	pAdminStats
	pAdminCancel
	pAdminTicketKeys
	pQueue
	pQueueStream
	pHolds
	pAvailability
	pSeats
	pSeatLayout
	pAdminSeats
	pHold
	pCheckout
	pExtend
	pOrder
	pWebhook
	pAdminRefund
	pTestConfirm
	pTestAuthenticate
	pTestThreeDS
	pCheckin
	pCheckinKeys
	pCheckinRevoked
	pScanPage
	pAsset
	pEvents
	pLanding
	pAdminOrders
	pAdminOrdersCSV
	pMeOrders
	nPatterns
)

// routes builds the routing table.
func (s *Server) routes() []*pattern {
	ps := make([]*pattern, nPatterns+1)
	add := func(id int, name string, hs map[method]handler) {
		p := &pattern{name: name}
		var allow []string
		for m := mGET; m < nMethods; m++ {
			h, ok := hs[m]
			if !ok && m == mHEAD {
				h, ok = hs[mGET], hs[mGET] != nil
			}
			if ok {
				p.routes[m] = &route{name: name, method: methodNames[m], h: h}
				allow = append(allow, methodNames[m])
			}
		}
		p.allowed = strings.Join(allow, ", ")
		ps[id] = p
	}
	add(pHealthz, "/healthz", map[method]handler{mGET: s.healthz})
	add(pReadyz, "/readyz", map[method]handler{mGET: s.readyz})
	add(pMetrics, "/metrics", map[method]handler{mGET: s.serveMetrics})
	add(pPage, "/e/{event}", map[method]handler{mGET: s.eventPage})
	add(pOrderPage, "/o/{order}", map[method]handler{mGET: s.orderPage})
	add(pOrderPDF, "/o/{order}/tickets.pdf", map[method]handler{mGET: s.orderPDF})
	add(pAdminPage, "/admin", map[method]handler{mGET: s.adminPage})
	add(pDocs, "/docs", map[method]handler{mGET: s.docsPage})
	add(pOpenAPI, "/openapi.yaml", map[method]handler{mGET: s.openAPI})
	add(pOpenAPIJSON, "/openapi.json", map[method]handler{mGET: s.openAPIAsJSON})
	add(pAdminEvents, "/v1/admin/events", map[method]handler{mGET: s.adminEvents, mPOST: s.createEvent})
	add(pAdminEvent, "/v1/admin/events/{event}", map[method]handler{mGET: s.getEvent, mPATCH: s.patchEvent})
	add(pAdminAdmission, "/v1/admin/events/{event}/admission", map[method]handler{mPATCH: s.patchAdmission})
	add(pAdminStats, "/v1/admin/events/{event}/stats", map[method]handler{mGET: s.eventStats})
	add(pAdminCancel, "/v1/admin/events/{event}/cancel", map[method]handler{mPOST: s.cancelEvent})
	add(pAdminTicketKeys, "/v1/admin/events/{event}/ticket-keys", map[method]handler{mPOST: s.rotateTicketKey})
	add(pQueue, "/v1/events/{event}/queue", map[method]handler{mPOST: s.join, mGET: s.queueStatus, mDELETE: s.leave})
	add(pQueueStream, "/v1/events/{event}/queue/stream", map[method]handler{mGET: s.queueStream})
	add(pHolds, "/v1/events/{event}/holds", map[method]handler{mPOST: s.createHold})
	add(pAvailability, "/v1/events/{event}/availability", map[method]handler{mGET: s.availability})
	add(pSeats, "/v1/events/{event}/seats", map[method]handler{mGET: s.seats})
	add(pSeatLayout, "/v1/events/{event}/seats/layout", map[method]handler{mGET: s.seatLayout})
	add(pAdminSeats, "/v1/admin/events/{event}/seats", map[method]handler{mGET: s.adminSeats})
	add(pHold, "/v1/holds/{hold}", map[method]handler{mGET: s.getHold, mDELETE: s.releaseHold})
	add(pCheckout, "/v1/holds/{hold}/checkout", map[method]handler{mPOST: s.checkout})
	add(pExtend, "/v1/holds/{hold}/extend", map[method]handler{mPOST: s.extendHold})
	add(pOrder, "/v1/orders/{order}", map[method]handler{mGET: s.getOrder})
	add(pWebhook, "/v1/webhooks/stripe", map[method]handler{mPOST: s.webhook})
	add(pAdminRefund, "/v1/admin/orders/{order}/refund", map[method]handler{mPOST: s.refundOrder})
	add(pTestConfirm, "/v1/test-payments/{payment_intent}/confirm", map[method]handler{mPOST: s.testConfirm})
	add(pTestAuthenticate, "/v1/test-payments/{payment_intent}/authenticate", map[method]handler{mPOST: s.testAuthenticate})
	add(pTestThreeDS, "/pay/3ds/{payment_intent}", map[method]handler{mGET: s.testThreeDS})
	add(pScanPage, "/scan/{event}", map[method]handler{mGET: s.scanPage})
	add(pAsset, "/assets/{file}", map[method]handler{mGET: s.asset})
	add(pEvents, "/v1/events", map[method]handler{mGET: s.listEvents})
	add(pLanding, "/", map[method]handler{mGET: s.landingPage})
	add(pCheckin, "/v1/events/{event}/checkin", map[method]handler{mPOST: s.checkin})
	add(pCheckinKeys, "/v1/events/{event}/checkin/keys", map[method]handler{mGET: s.checkinKeys})
	add(pCheckinRevoked, "/v1/events/{event}/checkin/revoked", map[method]handler{mGET: s.checkinRevoked})
	add(pAdminOrders, "/v1/admin/events/{event}/orders", map[method]handler{mGET: s.eventOrders})
	add(pAdminOrdersCSV, "/v1/admin/events/{event}/orders.csv", map[method]handler{mGET: s.eventOrdersCSV})
	add(pMeOrders, "/v1/me/orders", map[method]handler{mGET: s.myOrders})
	for _, id := range corsPatterns {
		p := ps[id]
		for _, r := range p.routes {
			if r != nil {
				r.cors = true
			}
		}
		if s.cors != nil {
			p.routes[mOPTIONS] = &route{name: p.name, method: "OPTIONS", h: s.preflight(p.allowed), cors: true}
			p.allowed += ", OPTIONS"
		}
	}
	ps[pWebhook].routes[mPOST].rawBody = true
	// The last entry answers every path the API does not have.
	notFound := func(*fasthttp.RequestCtx, string) error { return errNotFoundRoute }
	p := &pattern{name: "unmatched"}
	for m := mGET; m < nMethods; m++ {
		p.routes[m] = &route{name: p.name, method: methodNames[m], h: notFound, rawBody: true} // 404 whatever the body
	}
	ps[nPatterns] = p
	return ps
}

var opsPatterns = [...]bool{pHealthz: true, pReadyz: true, pMetrics: true}

// match finds the route of a request without allocating beyond the path argument.
func (s *Server) match(ctx *fasthttp.RequestCtx) (*route, string) {
	id, arg := matchPath(ctx.Path())
	if s.cfg.OpsOnly && (id >= len(opsPatterns) || !opsPatterns[id]) || id == pMetrics && s.cfg.MetricsElsewhere {
		id = nPatterns
	}
	p := s.patterns[id]
	m := methodOf(ctx.Method())
	if id == nPatterns {
		if m == mOther {
			m = mGET
		}
		return p.routes[m], ""
	}
	if m == mOther || p.routes[m] == nil {
		return s.methodNotAllowed(p), ""
	}
	return p.routes[m], s.ids.get(arg)
}

// methodNotAllowed is a route that answers 405 for a pattern; built lazily per pattern would need locking,
// and 405s are rare, so it allocates.
func (s *Server) methodNotAllowed(p *pattern) *route {
	return &route{name: p.name, method: "other", metrics: s.metrics.other(p.name), rawBody: true, h: func(ctx *fasthttp.RequestCtx, _ string) error {
		pe := problemf(405, typeBadRequest, "this resource answers "+p.allowed)
		pe.title = "Method not allowed"
		writeProblem(ctx, pe)
		ctx.Response.Header.Set("Allow", p.allowed)
		return nil
	}}
}

// matchPath maps a path to its pattern id and variable segment. Unknown paths give nPatterns.
func matchPath(path []byte) (int, []byte) {
	switch string(path) {
	case "/healthz":
		return pHealthz, nil
	case "/readyz":
		return pReadyz, nil
	case "/metrics":
		return pMetrics, nil
	case "/admin", "/admin/":
		return pAdminPage, nil
	case "/docs", "/docs/":
		return pDocs, nil
	case "/openapi.yaml":
		return pOpenAPI, nil
	case "/openapi.json":
		return pOpenAPIJSON, nil
	case "/v1/admin/events":
		return pAdminEvents, nil
	case "/v1/webhooks/stripe":
		return pWebhook, nil
	case "/v1/events":
		return pEvents, nil
	case "/v1/me/orders":
		return pMeOrders, nil
	case "/":
		return pLanding, nil
	}
	if rest, ok := bytes.CutPrefix(path, []byte("/v1/events/")); ok {
		arg, tail := segment(rest)
		switch string(tail) {
		case "/queue":
			return pQueue, arg
		case "/queue/stream":
			return pQueueStream, arg
		case "/holds":
			return pHolds, arg
		case "/availability":
			return pAvailability, arg
		case "/seats":
			return pSeats, arg
		case "/seats/layout":
			return pSeatLayout, arg
		case "/checkin":
			return pCheckin, arg
		case "/checkin/keys":
			return pCheckinKeys, arg
		case "/checkin/revoked":
			return pCheckinRevoked, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/v1/holds/")); ok {
		arg, tail := segment(rest)
		switch string(tail) {
		case "":
			return pHold, arg
		case "/checkout":
			return pCheckout, arg
		case "/extend":
			return pExtend, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/v1/orders/")); ok {
		if arg, tail := segment(rest); len(tail) == 0 {
			return pOrder, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/v1/admin/events/")); ok {
		arg, tail := segment(rest)
		switch string(tail) {
		case "":
			return pAdminEvent, arg
		case "/admission":
			return pAdminAdmission, arg
		case "/stats":
			return pAdminStats, arg
		case "/cancel":
			return pAdminCancel, arg
		case "/ticket-keys":
			return pAdminTicketKeys, arg
		case "/orders":
			return pAdminOrders, arg
		case "/orders.csv":
			return pAdminOrdersCSV, arg
		case "/seats":
			return pAdminSeats, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/v1/admin/orders/")); ok {
		if arg, tail := segment(rest); string(tail) == "/refund" {
			return pAdminRefund, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/v1/test-payments/")); ok {
		arg, tail := segment(rest)
		switch string(tail) {
		case "/confirm":
			return pTestConfirm, arg
		case "/authenticate":
			return pTestAuthenticate, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/pay/3ds/")); ok {
		if arg, tail := segment(rest); len(tail) == 0 {
			return pTestThreeDS, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/e/")); ok {
		if arg, tail := segment(rest); len(tail) == 0 || string(tail) == "/" {
			return pPage, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/o/")); ok {
		switch arg, tail := segment(rest); string(tail) {
		case "":
			return pOrderPage, arg
		case "/tickets.pdf":
			return pOrderPDF, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/scan/")); ok {
		if arg, tail := segment(rest); len(tail) == 0 {
			return pScanPage, arg
		}
	} else if rest, ok := bytes.CutPrefix(path, []byte("/assets/")); ok {
		if arg, tail := segment(rest); len(tail) == 0 {
			return pAsset, arg
		}
	}
	return nPatterns, nil
}

// segment splits a non-empty leading path segment from the rest; an empty segment matches nothing.
func segment(p []byte) (seg, tail []byte) {
	i := bytes.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	if i == 0 {
		return nil, []byte("\x00") // no route has an empty id
	}
	return p[:i], p[i:]
}
