package tickets_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/onsale/onsale/tickets"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		k := mustKey(t, "tour-paris")
		if len(k.ID) != 12 || seen[k.ID] || k.Event != "tour-paris" || !k.CreatedAt.Equal(keyNow) {
			t.Fatalf("key %q %q %v (seen %v)", k.ID, k.Event, k.CreatedAt, seen[k.ID])
		}
		seen[k.ID] = true
		// The kid is a prefix of the RFC 7638 thumbprint, as anyone holding the JWK computes it.
		sum, err := (&jose.JSONWebKey{Key: k.Public}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(sum); !strings.HasPrefix(want, k.ID) {
			t.Fatalf("kid %s, thumbprint %s", k.ID, want)
		}
	}
}

// TestJWKS: the published set is what a scanner or a third party verifies codes with, using a JOSE library.
func TestJWKS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keys := b.keysOf("tour-paris")
	body, err := tickets.JWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Keys) != 2 {
		t.Fatalf("%s: %v", body, err)
	}
	for i, k := range raw.Keys {
		want := map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": keys[i].ID, "use": "sig", "alg": "EdDSA",
			"x": base64.RawURLEncoding.EncodeToString(keys[i].Public)}
		if len(k) != len(want) {
			t.Fatalf("key %d: %v", i, k) // no "d": the set never carries a private key
		}
		for name, v := range want {
			if k[name] != v {
				t.Fatalf("key %d: %s = %q, want %q", i, name, k[name], v)
			}
		}
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range []tickets.Key{b.parisOld, b.paris} {
		code := sign(t, k, sample())
		obj, err := jose.ParseSignedCompact(code, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := obj.Verify(set) // the JWKS picks the key by kid
		if err != nil {
			t.Fatalf("kid %s: %v", k.ID, err)
		}
		var c tickets.Claims
		if err := json.Unmarshal(payload, &c); err != nil || c != sample() {
			t.Fatalf("claims %+v %v", c, err)
		}
		jwk := set.Key(k.ID)
		if len(jwk) != 1 || !jwk[0].IsPublic() || !jwk[0].Valid() {
			t.Fatalf("kid %s: %+v", k.ID, jwk)
		}
	}
	lyon := sign(t, b.lyon, tickets.Claims{TicketID: "tkt_1", Event: "tour-lyon"})
	obj, err := jose.ParseSignedCompact(lyon, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Verify(set); err == nil {
		t.Fatal("Paris's keys verify a Lyon code")
	}

	if body, err := tickets.JWKS(nil); err != nil || string(body) != `{"keys":[]}` {
		t.Fatalf("empty set: %s %v", body, err)
	}
}
