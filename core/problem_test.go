package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	cases := []struct {
		err      error
		status   int
		typ      string
		internal bool
	}{
		{inventory.ErrSoldOut, 409, typeSoldOut, false},
		{inventory.ErrSeatsUnavailable, 409, typeSeatsUnavailable, false},
		{inventory.ErrLimitExceeded, 429, typeLimitExceeded, false},
		{inventory.ErrHoldExpired, 410, typeHoldExpired, false},
		{fmt.Errorf("%w: bad seat", inventory.ErrInvalid), 400, typeBadRequest, false},
		{inventory.ErrNotFound, 404, typeNotFound, false},
		{inventory.ErrIdempotencyReused, 409, typeConflict, false},
		{inventory.ErrEventExists, 409, typeConflict, false},
		{inventory.ErrInvalidState, 409, typeConflict, false},
		{waitroom.ErrBadToken, 401, typeUnauthorized, false},
		{waitroom.ErrNotAdmitted, 403, typeNotAdmitted, false},
		{waitroom.ErrBadCode, 403, typeForbidden, false},
		{waitroom.ErrNotFound, 404, typeNotFound, false},
		{waitroom.ErrInvalid, 400, typeBadRequest, false},
		{settlement.ErrNotFound, 404, typeNotFound, false},
		{settlement.ErrIdempotencyReused, 409, typeConflict, false},
		{settlement.ErrBadSignature, 400, typeBadRequest, false},
		{context.DeadlineExceeded, 503, typeUnavailable, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, 503, typeUnavailable, true},
		{errors.New("something broke"), 500, typeInternal, true},
		{errTooLarge, 413, typeTooLarge, false},
	}
	for _, c := range cases {
		for _, err := range []error{c.err, wrap(c.err)} {
			p, internal := classify(err)
			if p.status != c.status || p.typ != c.typ || internal != c.internal {
				t.Errorf("%v: got %d %s internal=%v, want %d %s %v", err, p.status, p.typ, internal, c.status, c.typ, c.internal)
			}
		}
	}
}
