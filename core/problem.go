package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

// Problem types of the contract (API.md); a problem's "type" is one of these slugs.
const (
	typeBadRequest       = "bad-request"
	typeUnauthorized     = "unauthorized"
	typeForbidden        = "forbidden"
	typeNotAdmitted      = "not-admitted"
	typeNotFound         = "not-found"
	typeSoldOut          = "sold-out"
	typeSeatsUnavailable = "seats-unavailable"
	typeLimitExceeded    = "limit-exceeded"
	typeHoldExpired      = "hold-expired"
	typeConflict         = "conflict"
	typeRateLimited      = "rate-limited"
	typeTooLarge         = "too-large"
	typeUnavailable      = "unavailable"
	typeInternal         = "internal"
)

// problemError is an error that already knows its HTTP answer; handlers return it for conditions they detect
// themselves (a missing header, a bad field), and domain errors are translated into it by classify.
type problemError struct {
	status int
	typ    string
	title  string
	detail string
	// retryAfter, in seconds, adds a Retry-After header when positive.
	retryAfter int
}

func (p *problemError) Error() string { return p.typ + ": " + p.detail }

func problemf(status int, typ, detail string) *problemError {
	return &problemError{status: status, typ: typ, title: titleOf(typ), detail: detail}
}

func badRequest(detail string) *problemError { return problemf(400, typeBadRequest, detail) }

var (
	errNoAccess      = problemf(403, typeNotAdmitted, "an access token from the waiting room is required")
	errNotFoundRoute = problemf(404, typeNotFound, "no such resource")
	errNotFound      = problemf(404, typeNotFound, "not found")
	errTooLarge      = problemf(413, typeTooLarge, "the request body is larger than 64 KiB")
)

func titleOf(typ string) string {
	switch typ {
	case typeBadRequest:
		return "Bad request"
	case typeUnauthorized:
		return "Unauthorized"
	case typeForbidden:
		return "Forbidden"
	case typeNotAdmitted:
		return "Not admitted"
	case typeNotFound:
		return "Not found"
	case typeSoldOut:
		return "Sold out"
	case typeSeatsUnavailable:
		return "Seats unavailable"
	case typeLimitExceeded:
		return "Limit exceeded"
	case typeHoldExpired:
		return "Hold expired"
	case typeConflict:
		return "Conflict"
	case typeRateLimited:
		return "Too many requests"
	case typeTooLarge:
		return "Request too large"
	case typeUnavailable:
		return "Service unavailable"
	default:
		return "Internal error"
	}
}

// classify maps an error from a handler or a domain package to its HTTP answer. It is the one place where domain
// errors become status codes; internal reports whether the error is ours (and must be logged).
func classify(err error) (p *problemError, internal bool) {
	var pe *problemError
	if errors.As(err, &pe) {
		// The key set logs its failed fetch once; a line per token it could not check would flood the log.
		return pe, pe.status >= 500 && pe != errKeysUnavailable
	}
	detail := err.Error()
	switch {
	case errors.Is(err, inventory.ErrEventClosed), errors.Is(err, waitroom.ErrClosed):
		return problemf(409, typeConflict, "the event is cancelled"), false
	case errors.Is(err, inventory.ErrSoldOut):
		return problemf(409, typeSoldOut, detail), false
	case errors.Is(err, inventory.ErrSeatsUnavailable):
		return problemf(409, typeSeatsUnavailable, detail), false
	case errors.Is(err, inventory.ErrLimitExceeded):
		return problemf(429, typeLimitExceeded, detail), false
	case errors.Is(err, inventory.ErrHoldExpired):
		return problemf(410, typeHoldExpired, detail), false
	case errors.Is(err, inventory.ErrInvalid), errors.Is(err, waitroom.ErrInvalid),
		errors.Is(err, settlement.ErrInvalid), errors.Is(err, settlement.ErrBadSignature):
		return badRequest(detail), false
	case errors.Is(err, inventory.ErrNotFound), errors.Is(err, waitroom.ErrNotFound),
		errors.Is(err, settlement.ErrNotFound):
		return problemf(404, typeNotFound, detail), false
	case errors.Is(err, inventory.ErrIdempotencyReused), errors.Is(err, settlement.ErrIdempotencyReused),
		errors.Is(err, inventory.ErrEventExists), errors.Is(err, inventory.ErrInvalidState),
		errors.Is(err, settlement.ErrConflict):
		return problemf(409, typeConflict, detail), false
	case errors.Is(err, waitroom.ErrBadToken):
		return problemf(401, typeUnauthorized, detail), false
	case errors.Is(err, waitroom.ErrNotAdmitted):
		return problemf(403, typeNotAdmitted, detail), false
	case errors.Is(err, waitroom.ErrBadCode):
		return problemf(403, typeForbidden, detail), false
	case unavailable(err):
		p := problemf(503, typeUnavailable, "a backend is not reachable; try again shortly")
		p.retryAfter = 1
		return p, true
	}
	return &problemError{status: 500, typ: typeInternal, title: titleOf(typeInternal), detail: "internal error"}, true
}

// unavailable reports whether err says a backend could not be reached or did not answer in time.
func unavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// fail answers ctx with the problem err maps to, logging internal errors.
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	p, internal := classify(err)
	if internal {
		s.log.LogAttrs(context.Background(), slog.LevelError, "request failed",
			slog.String("method", string(ctx.Method())), slog.String("path", string(ctx.Path())),
			slog.Int("status", p.status), slog.Any("err", err))
	}
	writeProblem(ctx, p)
}

func writeProblem(ctx *fasthttp.RequestCtx, p *problemError) {
	ctx.Response.Reset()
	ctx.SetStatusCode(p.status)
	ctx.SetContentType("application/problem+json")
	if p.retryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	buf := getBuf()
	b := append(buf.b[:0], `{"type":`...)
	b = strconv.AppendQuote(b, p.typ)
	b = append(b, `,"title":`...)
	b = strconv.AppendQuote(b, p.title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.status), 10)
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, p.detail)
	b = append(b, '}')
	ctx.SetBody(b)
	putBuf(buf, b)
}
