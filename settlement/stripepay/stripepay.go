// Package stripepay takes payments with Stripe PaymentIntents (stripe-go/v76).
package stripepay

// Payments is a Stripe client.
type Payments struct{ key, apiBase string }

// New returns a client with a secret key; apiBase overrides https://api.stripe.com (stripe-mock, tests).
func New(key, apiBase string) *Payments { return &Payments{key: key, apiBase: apiBase} }
