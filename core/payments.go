package core

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/settlement"
)

// The test payment provider's browser side (no Stripe key): what Stripe.js's confirmPayment and Stripe's
// 3-D Secure page do, so the embedded default shows the whole payment flow with no account anywhere.

// paymentView is an order's payment as the fan's page needs it to confirm or authenticate it.
type paymentView struct {
	Provider       string                 `json:"provider"`
	ClientSecret   string                 `json:"client_secret,omitempty"`
	PublishableKey string                 `json:"publishable_key,omitempty"`
	NextAction     *settlement.NextAction `json:"next_action,omitempty"`
}

// paymentOf is the order's payment view; nil until the provider has a payment for it. The client secret is
// shown only while the fan may still have to use it.
func (s *Server) paymentOf(o settlement.Order) *paymentView {
	if o.PaymentIntent == "" && o.ClientSecret == "" {
		return nil
	}
	v := &paymentView{Provider: "stripe", PublishableKey: s.cfg.StripePublishableKey}
	if s.tpay != nil {
		v.Provider, v.PublishableKey = "test", ""
	}
	if !o.Status.Terminal() {
		v.ClientSecret = o.ClientSecret
		if o.Status == settlement.RequiresAction {
			v.NextAction = o.NextAction
		}
	}
	return v
}

// testPaymentView answers the test provider's calls: the PaymentIntent's status as Stripe names it.
type testPaymentView struct {
	PaymentIntent string                 `json:"payment_intent"`
	Status        string                 `json:"status"`
	NextAction    *settlement.NextAction `json:"next_action,omitempty"`
	FailureReason string                 `json:"failure_reason,omitempty"`
}

// stripeStatus names a payment's state as Stripe's PaymentIntent status.
func stripeStatus(p settlement.Payment) string {
	switch p.Status {
	case settlement.PaymentRequiresAction:
		if p.NextAction != nil {
			return "requires_action"
		}
		return "requires_payment_method"
	case settlement.PaymentAuthorized:
		return "requires_capture"
	case settlement.PaymentFailed:
		if p.FailureReason == "canceled" {
			return "canceled"
		}
		return "requires_payment_method"
	}
	return string(p.Status)
}

func viewOfTestPayment(p settlement.Payment) testPaymentView {
	v := testPaymentView{PaymentIntent: p.ID, Status: stripeStatus(p), FailureReason: p.FailureReason}
	if p.Status == settlement.PaymentRequiresAction {
		v.NextAction = p.NextAction
	}
	return v
}

type testConfirmBody struct {
	PaymentMethod string `json:"payment_method"`
}

type testAuthenticateBody struct {
	Outcome string `json:"outcome"`
}

// testConfirm: POST /v1/test-payments/{payment_intent}/confirm.
func (s *Server) testConfirm(ctx *fasthttp.RequestCtx, pi string) error {
	if s.tpay == nil {
		return errNotFound
	}
	var body testConfirmBody
	if err := decodeJSON(ctx.PostBody(), &body, false); err != nil {
		return err
	}
	if body.PaymentMethod == "" || len(body.PaymentMethod) > maxPaymentMethod {
		return badRequest(`"payment_method" is required (at most 255 bytes)`)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := s.tpay.Confirm(cctx, pi, body.PaymentMethod)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", pi, err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, viewOfTestPayment(p))
}

// testAuthenticate: POST /v1/test-payments/{payment_intent}/authenticate.
func (s *Server) testAuthenticate(ctx *fasthttp.RequestCtx, pi string) error {
	if s.tpay == nil {
		return errNotFound
	}
	var body testAuthenticateBody
	if err := decodeJSON(ctx.PostBody(), &body, false); err != nil {
		return err
	}
	if body.Outcome != "succeed" && body.Outcome != "fail" {
		return badRequest(`"outcome" must be "succeed" or "fail"`)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := s.tpay.Authenticate(cctx, pi, body.Outcome == "succeed")
	if err != nil {
		return fmt.Errorf("authenticate %s: %w", pi, err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, viewOfTestPayment(p))
}

var threeDSPage = template.Must(template.ParseFS(webFS, "web/3ds.html"))

// testThreeDS: GET /pay/3ds/{payment_intent}: the test provider's 3-D Secure page, where the fan completes or
// fails the authentication, then goes back to the page named by ?return= (same site only).
func (s *Server) testThreeDS(ctx *fasthttp.RequestCtx, pi string) error {
	if s.tpay == nil {
		return errNotFoundRoute
	}
	p, err := s.tpay.Payment(context.Background(), pi)
	if err != nil {
		return fmt.Errorf("payment %s: %w", pi, err)
	}
	ret := string(ctx.QueryArgs().Peek("return"))
	if !strings.HasPrefix(ret, "/") || strings.HasPrefix(ret, "//") || strings.ContainsAny(ret, "\\\r\n") {
		ret = ""
	}
	var b bytes.Buffer
	err = threeDSPage.Execute(&b, map[string]any{
		"PaymentIntent": p.ID, "Amount": formatAmount(p.Amount, p.Currency), "Status": stripeStatus(p), "Return": ret,
	})
	if err != nil {
		return err
	}
	servePage(ctx, b.Bytes(), htmlType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	return nil
}

// formatAmount writes minor units as an amount with two decimals and the currency code ("90.00 EUR").
func formatAmount(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return sign + strconv.FormatInt(minor/100, 10) + "." + fmt.Sprintf("%02d", minor%100) + " " + currency
}
