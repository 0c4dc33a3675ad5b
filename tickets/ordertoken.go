package tickets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// An order token is "o1." ‖ base64url(order id ‖ tag), the tag being the first 16 bytes of
// HMAC-SHA256(key, "o1." ‖ order id) under a key derived from the secret for order tokens alone. The prefix names
// the format so a later one can be told apart; the token has no expiry because it opens its order for as long as
// the order exists. Every character is URL-safe and valid in a Bearer credential.
const (
	orderTokenPrefix = "o1."
	orderTagLen      = 16
	// MaxOrderIDLen bounds the order ids Issue accepts, and so the tokens Verify reads.
	MaxOrderIDLen = 128
	// MinOrderSecretLen is the shortest secret NewOrderTokens accepts.
	MinOrderSecretLen = 32
)

var maxOrderTokenLen = len(orderTokenPrefix) + base64.RawURLEncoding.EncodedLen(MaxOrderIDLen+orderTagLen)

// ErrOrderToken is the error of every order token that does not verify.
var ErrOrderToken = errors.New("order token does not verify")

// OrderTokens issues and verifies order tokens.
type OrderTokens struct {
	macs *sync.Pool // of hash.Hash, so a verification does not rehash the padded key
}

// NewOrderTokens returns OrderTokens under secret, of at least MinOrderSecretLen bytes.
func NewOrderTokens(secret []byte) (*OrderTokens, error) {
	if len(secret) < MinOrderSecretLen {
		return nil, fmt.Errorf("order token secret: %d bytes, want at least %d", len(secret), MinOrderSecretLen)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onsale/tickets/order-token/v1"))
	key := m.Sum(nil)
	return &OrderTokens{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}, nil
}

// tag appends the tag of an order id to dst.
func (o *OrderTokens) tag(dst, orderID []byte) []byte {
	m := o.macs.Get().(hash.Hash)
	m.Write([]byte(orderTokenPrefix))
	m.Write(orderID)
	var sum [sha256.Size]byte
	dst = append(dst, m.Sum(sum[:0])[:orderTagLen]...)
	m.Reset()
	o.macs.Put(m)
	return dst
}

// Issue returns the token of an order. It panics on an empty id or one longer than MaxOrderIDLen: order ids are
// the service's own, so that is a bug.
func (o *OrderTokens) Issue(orderID string) string {
	if orderID == "" || len(orderID) > MaxOrderIDLen {
		panic(fmt.Sprintf("tickets: order id of %d bytes", len(orderID)))
	}
	raw := append(make([]byte, 0, len(orderID)+orderTagLen), orderID...)
	raw = o.tag(raw, raw)
	return orderTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// Verify returns the order id of token, or ErrOrderToken.
func (o *OrderTokens) Verify(token string) (string, error) {
	if len(token) > maxOrderTokenLen || !strings.HasPrefix(token, orderTokenPrefix) {
		return "", ErrOrderToken
	}
	body := token[len(orderTokenPrefix):]
	// Strict, and the length check refuses line breaks, which the decoder would skip: one spelling per token.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) <= orderTagLen || base64.RawURLEncoding.EncodedLen(len(raw)) != len(body) {
		return "", ErrOrderToken
	}
	id, tag := raw[:len(raw)-orderTagLen], raw[len(raw)-orderTagLen:]
	var buf [orderTagLen]byte
	if !hmac.Equal(o.tag(buf[:0], id), tag) {
		return "", ErrOrderToken
	}
	return string(id), nil
}
