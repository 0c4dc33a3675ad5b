package core

import (
	"bytes"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// corsPatterns are the fan API: what a fan's browser calls, and so what pages on other origins may call. The
// organizer API, the door and the webhook are never offered to other origins.
var corsPatterns = []int{pQueue, pQueueStream, pHolds, pAvailability, pHold, pCheckout, pOrder, pTestConfirm,
	pTestAuthenticate, pEvents, pExtend, pSeats, pMeOrders}

// corsAllowHeaders are the request headers the fan API reads.
const corsAllowHeaders = "Authorization, Content-Type, Idempotency-Key, Queue-Token"

// corsPolicy is the set of origins allowed to call the fan API; nil allows none.
type corsPolicy struct {
	any     bool
	origins []string
}

func newCORSPolicy(origins []string) *corsPolicy {
	if len(origins) == 0 {
		return nil
	}
	p := &corsPolicy{}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		switch o {
		case "":
		case "*":
			p.any = true
		default:
			p.origins = append(p.origins, o)
		}
	}
	return p
}

// allowOrigin is the Access-Control-Allow-Origin value for a request's Origin, or nil when it is not allowed.
func (p *corsPolicy) allowOrigin(origin []byte) []byte {
	switch {
	case len(origin) == 0:
		return nil
	case p.any:
		return []byte("*")
	case slices.ContainsFunc(p.origins, func(o string) bool { return string(bytes.ToLower(origin)) == o }):
		return origin
	}
	return nil
}

// corsHeaders marks a fan API answer for caches (Vary) and, for an allowed origin, opens it to that origin. Tokens
// travel in headers, not cookies, so credentials are never allowed.
func (s *Server) corsHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Add(fasthttp.HeaderVary, "Origin")
	if allow := s.cors.allowOrigin(ctx.Request.Header.Peek("Origin")); allow != nil {
		h.SetBytesV(fasthttp.HeaderAccessControlAllowOrigin, allow)
		h.Set(fasthttp.HeaderAccessControlExposeHeaders, "Retry-After")
	}
}

// preflight answers a browser's OPTIONS before a cross-origin call of a pattern answering methods.
func (s *Server) preflight(methods string) handler {
	return func(ctx *fasthttp.RequestCtx, _ string) error {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		ctx.Response.Header.Set("Allow", methods+", OPTIONS")
		if s.cors.allowOrigin(ctx.Request.Header.Peek("Origin")) != nil {
			h := &ctx.Response.Header
			h.Set(fasthttp.HeaderAccessControlAllowMethods, methods)
			h.Set(fasthttp.HeaderAccessControlAllowHeaders, corsAllowHeaders)
			h.Set(fasthttp.HeaderAccessControlMaxAge, "600")
		}
		return nil
	}
}

var errNotJSON = &problemError{status: 415, typ: typeBadRequest, title: "Unsupported media type",
	detail: "a request body must be application/json"}

// jsonBody checks that a request's body, if it has one, is declared JSON. Browsers send text/plain across origins
// without asking first; requiring application/json makes such a call need a preflight, which CORS then decides.
func jsonBody(ctx *fasthttp.RequestCtx) error {
	if len(ctx.Request.Body()) == 0 {
		return nil
	}
	ct := ctx.Request.Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !bytes.EqualFold(bytes.TrimSpace(ct), []byte("application/json")) {
		return errNotJSON
	}
	return nil
}
