package tickets

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// kidBytes is how much of the key's thumbprint its id keeps: 72 bits, 12 characters, so ids stay unique across
// every event's keys while adding little to each code.
const kidBytes = 9

// Key is one signing key of an event. Private is nil in a verify-only copy (a scanner's, or a retired key's).
type Key struct {
	ID        string // kid: the first 12 characters of the RFC 7638 thumbprint of Public
	Event     string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// NewKey creates a key pair for event.
func NewKey(event string, now time.Time) (Key, error) {
	if event == "" {
		return Key{}, fmt.Errorf("new key: %w", errNoEvent)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return Key{}, fmt.Errorf("new key for %s: %w", event, err)
	}
	return Key{ID: KeyID(pub), Event: event, Public: pub, Private: priv, CreatedAt: now}, nil
}

// KeyID returns the kid of a public key: a prefix of its RFC 7638 thumbprint, so anyone holding the JWK can check
// the id belongs to it.
func KeyID(pub ed25519.PublicKey) string {
	// The thumbprint input has the required members in lexicographic order and no whitespace (RFC 7638 §3).
	in := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(in))
	return base64.RawURLEncoding.EncodeToString(sum[:kidBytes])
}

// canSign reports whether k holds a private key that matches its public key.
func (k Key) canSign() bool {
	return len(k.Private) == ed25519.PrivateKeySize && len(k.Public) == ed25519.PublicKeySize &&
		bytes.Equal(k.Private[ed25519.SeedSize:], k.Public)
}

// Current returns the key that signs new codes: the newest of keys that holds a private key. Older keys keep
// verifying the codes they signed for as long as they stay in the set.
func Current(keys []Key) (Key, bool) {
	var cur Key
	found := false
	for _, k := range keys {
		if k.canSign() && (!found || k.CreatedAt.After(cur.CreatedAt)) {
			cur, found = k, true
		}
	}
	return cur, found
}

// JWK is the public half of a Key as an RFC 8037 OKP JSON Web Key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKSet is a JSON Web Key Set (RFC 7517 §5).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWKS returns the key set that verifies the codes signed by keys; it never holds a private part.
func PublicJWKS(keys []Key) JWKSet {
	set := JWKSet{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize {
			continue // it verifies nothing
		}
		set.Keys = append(set.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public),
			Kid: k.ID, Use: "sig", Alg: "EdDSA"})
	}
	return set
}

// JWKS returns PublicJWKS(keys) as JSON, the body of GET /v1/events/{event}/checkin/keys.
func JWKS(keys []Key) ([]byte, error) {
	return json.Marshal(PublicJWKS(keys))
}
