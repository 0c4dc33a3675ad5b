package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/onsale/onsale/inventory"
)

// maxBody is the largest request body accepted (API.md: > 64 KiB → 413 too-large).
const maxBody = 64 << 10

// maxReadBody is how much of a body the server reads before giving up on the connection. Reading past maxBody
// lets the handlers answer a clean 413 problem: refusing at 64 KiB would close the connection while the client is
// still sending, and most clients then report a reset instead of the answer.
const maxReadBody = 1 << 20

// decodeJSON decodes exactly one JSON value from body into v, rejecting unknown fields, wrong types and trailing
// data. allowEmpty lets an empty body stand for {}.
func decodeJSON(body []byte, v any, allowEmpty bool) error {
	if len(body) > maxBody {
		return errTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("the request body is empty; a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected %s, not %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON: " + err.Error()
}

// holdBody is the body of POST /v1/events/{event}/holds.
type holdBody struct {
	Items []inventory.Item `json:"items"` // section, quantity, adjacent
	Seats []string         `json:"seats"`
}

// maxHoldUnits bounds one request before it reaches the inventory (which applies the same bound).
const maxHoldUnits = 100

func (h *holdBody) validate() error {
	if len(h.Items) == 0 && len(h.Seats) == 0 {
		return badRequest(`a hold needs "items" or "seats"`)
	}
	units := len(h.Seats)
	if units > maxHoldUnits {
		return badRequest(fmt.Sprintf("at most %d units in one hold", maxHoldUnits))
	}
	for i, it := range h.Items {
		if it.Section == "" {
			return badRequest(fmt.Sprintf("items[%d].section is required", i))
		}
		if it.Quantity <= 0 {
			return badRequest(fmt.Sprintf("items[%d].quantity must be at least 1", i))
		}
		if it.Quantity > maxHoldUnits {
			return badRequest(fmt.Sprintf("at most %d units in one hold", maxHoldUnits))
		}
		units += it.Quantity
		if units > maxHoldUnits {
			return badRequest(fmt.Sprintf("at most %d units in one hold", maxHoldUnits))
		}
	}
	for i, s := range h.Seats {
		if s == "" {
			return badRequest(fmt.Sprintf("seats[%d] is empty", i))
		}
	}
	return nil
}

// joinBody is the body of POST /v1/events/{event}/queue.
type joinBody struct {
	Fan  string `json:"fan"`
	Code string `json:"code"`
}

// maxFanLen bounds a fan id given in dev mode.
const maxFanLen = 256

// checkoutBody is the body of POST /v1/holds/{hold}/checkout.
type checkoutBody struct {
	PaymentMethod *string `json:"payment_method"` // absent: the fan confirms the payment in the page
}

// admissionBody is the body of PATCH /v1/admin/events/{event}/admission.
type admissionBody struct {
	Paused      *bool `json:"paused"`
	AdmitPerMin *int  `json:"admit_per_min"`
	MaxActive   *int  `json:"max_active"`
}

func (a *admissionBody) validate() error {
	if a.Paused == nil && a.AdmitPerMin == nil && a.MaxActive == nil {
		return badRequest(`give "paused", "admit_per_min" or "max_active"`)
	}
	if a.AdmitPerMin != nil && *a.AdmitPerMin < 1 {
		return badRequest("admit_per_min must be at least 1")
	}
	if a.MaxActive != nil && *a.MaxActive < 1 {
		return badRequest("max_active must be at least 1")
	}
	return nil
}
