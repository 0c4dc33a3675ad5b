package core_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// issuer is an OIDC provider for tests: discovery and a JWKS with one RSA key, and a signer of tokens.
type issuer struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{t: t, key: key, signer: signerFor(t, key, "k1")}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func signerFor(t *testing.T, key *rsa.PrivateKey, kid string) jose.Signer {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// token signs claims over sensible defaults (this issuer, audience "onsale", valid for an hour).
func (is *issuer) token(signer jose.Signer, extra map[string]any) string {
	is.t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": is.srv.URL, "aud": "onsale", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	if signer == nil {
		signer = is.signer
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return raw
}

func TestOIDCOrganizer(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	e := setup(t, func(o *options) { o.cfg.OIDCIssuer = is.srv.URL; o.cfg.OIDCClientID = "onsale" })
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keycloak := is.token(nil, map[string]any{"sub": "org-1", "realm_access": map[string]any{"roles": []string{"offline_access", "organizer"}}})
	topLevel := is.token(nil, map[string]any{"sub": "org-2", "roles": []string{"organizer"}})
	cases := []struct {
		name, token string
		status      int
		typ         string
	}{
		{"no token", "", 401, "unauthorized"},
		{"garbage", "not-a-jwt", 401, "unauthorized"},
		{"fan without the role", is.token(nil, map[string]any{"sub": "fan-1", "realm_access": map[string]any{"roles": []string{"fan"}}}), 403, "forbidden"},
		{"expired", is.token(nil, map[string]any{"sub": "org-1", "roles": []string{"organizer"}, "exp": time.Now().Add(-time.Minute).Unix()}), 401, "unauthorized"},
		{"signed by another key", is.token(signerFor(t, other, "k1"), map[string]any{"sub": "org-1", "roles": []string{"organizer"}}), 401, "unauthorized"},
		{"unknown key id", is.token(signerFor(t, other, "k2"), map[string]any{"sub": "org-1", "roles": []string{"organizer"}}), 401, "unauthorized"},
		{"another issuer", is.token(nil, map[string]any{"iss": "https://elsewhere.example", "sub": "org-1", "roles": []string{"organizer"}}), 401, "unauthorized"},
		{"another audience", is.token(nil, map[string]any{"aud": "billing", "sub": "org-1", "roles": []string{"organizer"}}), 401, "unauthorized"},
	}
	for _, c := range cases {
		var hdr []string
		if c.token != "" {
			hdr = bearer(c.token)
		}
		problem(t, c.name, e.do("POST", "/v1/admin/events", eventDef("oidc", 4, 4, 2), hdr...), c.status, c.typ)
	}
	if r := e.do("POST", "/v1/admin/events", eventDef("oidc", 4, 4, 2), bearer(keycloak)...); r.status != 201 {
		t.Fatalf("Keycloak realm role: %v", r)
	}
	if r := e.do("GET", "/v1/admin/events/oidc", nil, bearer(topLevel)...); r.status != 200 {
		t.Fatalf("top-level roles claim: %v", r)
	}
	if r := e.do("GET", "/v1/admin/events/oidc/stats", nil, e.adminAuth()...); r.status != 200 {
		t.Fatalf("the static admin token still works: %v", r)
	}
	// Door staff scan with the door role, which opens nothing else.
	door := is.token(nil, map[string]any{"sub": "gate-1", "roles": []string{"door"}})
	if r := e.do("GET", "/v1/events/oidc/checkin/keys", nil, bearer(door)...); r.status != 200 {
		t.Fatalf("door role at the door: %v", r)
	}
	if r := e.do("GET", "/v1/events/oidc/checkin/revoked", nil, bearer(keycloak)...); r.status != 200 {
		t.Fatalf("organizer role at the door: %v", r)
	}
	problem(t, "door role in the console", e.do("GET", "/v1/admin/events/oidc", nil, bearer(door)...), 403, "forbidden")
	fan := is.token(nil, map[string]any{"sub": "fan-1", "roles": []string{"fan"}})
	problem(t, "fan at the door", e.do("GET", "/v1/events/oidc/checkin/keys", nil, bearer(fan)...), 403, "forbidden")
}

func TestOIDCFans(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	e := setup(t, func(o *options) { o.cfg.OIDCIssuer = is.srv.URL })
	e.createEvent(eventDef("fans", 4, 4, 2))
	problem(t, "join without a token", e.do("POST", "/v1/events/fans/queue", `{"fan":"alice"}`), 401, "unauthorized")
	problem(t, "join with a forged token", e.do("POST", "/v1/events/fans/queue", `{}`, bearer("x.y.z")...), 401, "unauthorized")
	alice := is.token(nil, map[string]any{"sub": "alice"})
	first := e.do("POST", "/v1/events/fans/queue", `{"fan":"mallory"}`, bearer(alice)...)
	if first.status != 201 {
		t.Fatalf("join: %v", first)
	}
	// The body's fan is ignored: the token's subject is the fan, so this is alice again.
	again := e.do("POST", "/v1/events/fans/queue", `{"fan":"bob"}`, bearer(alice)...)
	if again.status != 200 || again.body["position"] != first.body["position"] {
		t.Fatalf("rejoin: %v after %v", again, first)
	}
	// An empty body is fine when the token names the fan.
	if r := e.do("POST", "/v1/events/fans/queue", nil, bearer(is.token(nil, map[string]any{"sub": "carol"}))...); r.status != 201 {
		t.Fatalf("join with no body: %v", r)
	}
}
