package core_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// issuer is an OIDC provider for tests: discovery and a JWKS with one RSA key, and a signer of tokens. It counts
// the key set requests, and a test may change the set it publishes or stall it.
type issuer struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer

	jwksHits atomic.Int64
	mu       sync.Mutex
	keys     []jose.JSONWebKey
	stall    chan struct{} // when set, key set requests wait on it (or the request's end)
}

// publish replaces the key set the issuer serves.
func (is *issuer) publish(keys ...jose.JSONWebKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

// stallKeys makes key set requests hang until the test ends.
func (is *issuer) stallKeys() {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.stall = make(chan struct{})
	is.t.Cleanup(func() { close(is.stall) })
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{t: t, key: key, signer: signerFor(t, key, "k1")}
	is.publish(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"})
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		is.mu.Lock()
		keys, stall := is.keys, is.stall
		is.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
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
	keycloak := is.token(nil, map[string]any{"sub": "org-1", "org": "acme", "realm_access": map[string]any{"roles": []string{"offline_access", "organizer"}}})
	topLevel := is.token(nil, map[string]any{"sub": "org-2", "org": "acme", "roles": []string{"organizer"}})
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
		{"issued an hour ahead", is.token(nil, map[string]any{"sub": "org-1", "roles": []string{"organizer"}, "iat": time.Now().Add(time.Hour).Unix()}), 401, "unauthorized"},
		{"roles of another shape", is.token(nil, map[string]any{"sub": "org-1", "roles": map[string]any{"organizer": true}}), 403, "forbidden"},
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
	// A clock a little behind the provider's is no reason to refuse; roles as one string are read too.
	skewed := is.token(nil, map[string]any{"sub": "org-2", "org": "acme", "roles": "organizer", "iat": time.Now().Add(30 * time.Second).Unix()})
	if r := e.do("GET", "/v1/admin/events/oidc", nil, bearer(skewed)...); r.status != 200 {
		t.Fatalf("roles as a string, issued 30 s ahead: %v", r)
	}
	client := is.token(nil, map[string]any{"sub": "org-3", "org": []string{"acme"}, "resource_access": map[string]any{"onsale": map[string]any{"roles": []string{"organizer"}}}})
	if r := e.do("GET", "/v1/admin/events/oidc", nil, bearer(client)...); r.status != 200 {
		t.Fatalf("Keycloak client role: %v", r)
	}
	if r := e.do("GET", "/v1/admin/events/oidc/stats", nil, e.adminAuth()...); r.status != 200 {
		t.Fatalf("the static admin token still works: %v", r)
	}
	// Door staff scan with the door role, which opens nothing else.
	door := is.token(nil, map[string]any{"sub": "gate-1", "org": "acme", "roles": []string{"door"}})
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

// forgeJWT rewrites a token's header or payload, keeping its signature: what an attacker can make without the key.
func forgeJWT(t *testing.T, tok string, header, payload map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	enc := func(v map[string]any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	if header != nil {
		parts[0] = enc(header)
	}
	if payload != nil {
		parts[1] = enc(payload)
	}
	return strings.Join(parts, ".")
}

// Forged tokens cost the provider no request beyond the key set's refetch limit, whatever their number.
func TestOIDCForgedTokensSpareTheProvider(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	e := setup(t, func(o *options) { o.cfg.OIDCIssuer = is.srv.URL; o.cfg.OIDCClientID = "onsale" })
	good := is.token(nil, map[string]any{"sub": "org-1", "roles": []string{"organizer"}})
	problem(t, "a good token", e.do("GET", "/v1/admin/events/nope", nil, bearer(good)...), 404, "not-found")
	before := is.jwksHits.Load()
	const n = 2000
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				var tok string
				if i%2 == 0 { // an unknown key id
					tok = forgeJWT(t, good, map[string]any{"alg": "RS256", "typ": "JWT", "kid": fmt.Sprintf("forged-%d", i)}, nil)
				} else { // the provider's key id over a payload it did not sign
					tok = forgeJWT(t, good, nil, map[string]any{"iss": is.srv.URL, "aud": "onsale", "sub": fmt.Sprintf("org-%d", i),
						"roles": []string{"organizer"}, "exp": time.Now().Add(time.Hour).Unix()})
				}
				if r := e.do("GET", "/v1/admin/events/nope", nil, bearer(tok)...); r.status != 401 {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fetched := is.jwksHits.Load() - before
	t.Logf("%d forged tokens: %d key set requests", n, fetched)
	if wrong.Load() > 0 {
		t.Errorf("%d forged tokens were not answered 401", wrong.Load())
	}
	if fetched > 1 {
		t.Errorf("%d forged tokens made %d key set requests, want at most 1", n, fetched)
	}
	problem(t, "a good token after", e.do("GET", "/v1/admin/events/nope", nil, bearer(good)...), 404, "not-found")
}

// A key the provider drops stops verifying within the refresh interval, with no token to force a refetch.
func TestOIDCDroppedKey(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	e := setup(t, func(o *options) {
		o.cfg.OIDCIssuer = is.srv.URL
		o.cfg.OIDCClientID = "onsale"
		o.cfg.OIDCKeyRefresh = 200 * time.Millisecond
	})
	old := is.token(nil, map[string]any{"sub": "org-1", "roles": []string{"organizer"}})
	problem(t, "the key in use", e.do("GET", "/v1/admin/events/nope", nil, bearer(old)...), 404, "not-found")
	next, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is.publish(jose.JSONWebKey{Key: &next.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"})
	dropped := time.Now()
	for e.do("GET", "/v1/admin/events/nope", nil, bearer(old)...).status != 401 {
		if time.Since(dropped) > 5*time.Second {
			t.Fatal("a dropped key still verifies 5 s later")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("dropped key refused after %v", time.Since(dropped).Round(time.Millisecond))
	nextTok := is.token(signerFor(t, next, "k2"), map[string]any{"sub": "org-1", "roles": []string{"organizer"}})
	problem(t, "the new key", e.do("GET", "/v1/admin/events/nope", nil, bearer(nextTok)...), 404, "not-found")
}

// A stalled provider costs a request the fetch timeout, then 503: the token may be good, onsale cannot tell.
// Tokens of keys already fetched keep working.
func TestOIDCStalledProvider(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	e := setup(t, func(o *options) {
		o.cfg.OIDCIssuer = is.srv.URL
		o.cfg.OIDCClientID = "onsale"
		o.cfg.OIDCFetchTimeout = 300 * time.Millisecond
	})
	known := is.token(nil, map[string]any{"sub": "org-1", "roles": []string{"organizer"}})
	problem(t, "before the stall", e.do("GET", "/v1/admin/events/nope", nil, bearer(known)...), 404, "not-found")
	is.stallKeys()
	next, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rotated := is.token(signerFor(t, next, "k2"), map[string]any{"sub": "org-1", "roles": []string{"organizer"}})
	start := time.Now()
	r := e.do("GET", "/v1/admin/events/nope", nil, bearer(rotated)...)
	took := time.Since(start)
	problem(t, "a new key while the provider stalls", r, 503, "unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if took > 3*time.Second {
		t.Errorf("a stalled provider held the request %v", took)
	}
	t.Logf("stalled provider: 503 after %v", took.Round(time.Millisecond))
	// Within the refetch limit the outage is remembered rather than asked again.
	start = time.Now()
	problem(t, "again at once", e.do("GET", "/v1/admin/events/nope", nil, bearer(rotated)...), 503, "unavailable")
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the second request waited %v", took)
	}
	problem(t, "a known key while the provider stalls", e.do("GET", "/v1/admin/events/nope", nil, bearer(known)...), 404, "not-found")
}
