package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/redis/go-redis/v9"
)

// testIssuer is an OpenID provider for the test: discovery, one RSA key, tokens signed with it.
type testIssuer struct {
	url    string
	signer jose.Signer
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{signer: signer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.url, "jwks_uri": is.url + "/keys",
			"authorization_endpoint": is.url + "/auth", "token_endpoint": is.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.url = srv.URL
	return is
}

func (is *testIssuer) bearer(t *testing.T, claims map[string]any) []string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": is.url, "aud": "onsale", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok, err := jwt.Signed(is.signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"Authorization", "Bearer " + tok}
}

// api calls a running serve and decodes a JSON answer.
type api struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (a api) do(method, path string, body any, hdr ...string) (int, map[string]any, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m, raw
}

// buy pays for one general-admission unit of event as the fan the token names; it returns the order id.
func (a api) buy(event string, fan []string) string {
	a.t.Helper()
	st, r, raw := a.do("POST", "/v1/events/"+event+"/queue", map[string]any{}, fan...)
	if st != 201 {
		a.t.Fatalf("join %s: %d %s", event, st, raw)
	}
	qt, _ := r["queue_token"].(string)
	var access string
	for deadline := time.Now().Add(30 * time.Second); access == ""; time.Sleep(20 * time.Millisecond) {
		_, r, raw = a.do("GET", "/v1/events/"+event+"/queue", nil, "Queue-Token", qt)
		if t, _ := r["queue_token"].(string); t != "" {
			qt = t
		}
		access, _ = r["access_token"].(string)
		if time.Now().After(deadline) {
			a.t.Fatalf("not admitted to %s: %s", event, raw)
		}
	}
	st, r, raw = a.do("POST", "/v1/events/"+event+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, "Authorization", "Bearer "+access)
	if st != 201 {
		a.t.Fatalf("hold: %d %s", st, raw)
	}
	st, r, raw = a.do("POST", "/v1/holds/"+r["hold_id"].(string)+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, "Authorization", "Bearer "+access)
	if st != 202 {
		a.t.Fatalf("checkout: %d %s", st, raw)
	}
	order, tok := r["order_id"].(string), r["order_token"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, r, raw = a.do("GET", "/v1/orders/"+order, nil, "Authorization", "Bearer "+tok); r["status"] == "paid" {
			return order
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("order %s not paid: %s", order, raw)
		}
	}
}

func (a api) ids(path, field string, hdr ...string) []string {
	a.t.Helper()
	st, r, raw := a.do("GET", path, nil, hdr...)
	if st != 200 {
		a.t.Fatalf("%s: %d %s", path, st, raw)
	}
	var out []string
	for _, x := range r[field].([]any) {
		m := x.(map[string]any)
		if id, ok := m["order_id"].(string); ok {
			out = append(out, id)
		} else {
			out = append(out, m["id"].(string))
		}
	}
	slices.Sort(out)
	return out
}

// TestOrganizersRealBackends: on Redis, PostgreSQL and RabbitMQ, two OIDC organizers see only their own events
// and orders (the PostgreSQL ledger lists and exports them), a fan lists its orders across both, and the owners
// hold across a restart and a rebuild of an event from the ledger after Redis lost it.
func TestOrganizersRealBackends(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	env := realEnv(t)
	env["ONSALE_OIDC_ISSUER"], env["ONSALE_OIDC_CLIENT_ID"] = is.url, "onsale"
	acme := is.bearer(t, map[string]any{"sub": "u-alice", "org": "acme", "roles": []string{"organizer"}})
	globex := is.bearer(t, map[string]any{"sub": "u-carol", "org": "globex", "roles": []string{"organizer"}})
	fan := is.bearer(t, map[string]any{"sub": "u-fan"})
	prefix := env["ONSALE_PREFIX"]
	evA, evB := "a"+strings.ReplaceAll(prefix, ":", "-"), "b"+strings.ReplaceAll(prefix, ":", "-")
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()

	s, stop := serveUntil(t, env)
	a := api{t: t, base: s.base, client: client}
	for _, c := range []struct {
		id  string
		who []string
	}{{evA, acme}, {evB, globex}} {
		if st, _, raw := a.do("POST", "/v1/admin/events", sampleEvent(c.id, 20, 1, 4, 60000, 100), c.who...); st != 201 {
			t.Fatalf("create %s: %d %s", c.id, st, raw)
		}
	}
	orderA, orderB := a.buy(evA, fan), a.buy(evB, fan)
	other := a.buy(evA, is.bearer(t, map[string]any{"sub": "u-other"}))

	check := func(phase string, a api) {
		t.Helper()
		if got := a.ids("/v1/admin/events", "events", acme...); !slices.Equal(got, []string{evA}) {
			t.Errorf("%s: acme lists %v", phase, got)
		}
		if got := a.ids("/v1/admin/events/"+evA+"/orders", "orders", acme...); !slices.Equal(got, sorted(orderA, other)) {
			t.Errorf("%s: acme's orders %v, want %s and %s", phase, got, orderA, other)
		}
		if got := a.ids("/v1/admin/events/"+evA+"/orders?fan=u-fan&status=paid", "orders", acme...); !slices.Equal(got, []string{orderA}) {
			t.Errorf("%s: acme's orders of u-fan %v", phase, got)
		}
		for _, p := range []string{"", "/stats", "/orders", "/orders.csv"} {
			if st, r, _ := a.do("GET", "/v1/admin/events/"+evA+p, nil, globex...); st != 404 || r["type"] != "not-found" {
				t.Errorf("%s: globex reads %s%s: %d %v", phase, evA, p, st, r)
			}
		}
		if st, _, _ := a.do("POST", "/v1/admin/orders/"+orderA+"/refund", nil, globex...); st != 404 {
			t.Errorf("%s: globex refunds acme's order: %d", phase, st)
		}
		if got := a.ids("/v1/me/orders", "orders", fan...); !slices.Equal(got, sorted(orderA, orderB)) {
			t.Errorf("%s: the fan's orders %v, want %s and %s", phase, got, orderA, orderB)
		}
		if got := a.ids("/v1/admin/events", "events", "Authorization", "Bearer "+s.admin); !slices.Contains(got, evA) || !slices.Contains(got, evB) {
			t.Errorf("%s: the operator lists %v", phase, got)
		}
	}
	check("first run", a)
	st, _, csv := a.do("GET", "/v1/admin/events/"+evA+"/orders.csv", nil, acme...)
	if st != 200 || !bytes.Contains(csv, []byte(orderA)) || !bytes.Contains(csv, []byte(other)) || bytes.Contains(csv, []byte(orderB)) {
		t.Errorf("acme's CSV: %d %s", st, csv)
	}
	stop()

	// Redis loses acme's event; the ledger rebuilds it, owner included.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := redis.ParseURL(env["ONSALE_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	keys, err := rc.Keys(ctx, prefix+":{ev:"+evA+"}:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("event keys: %v %v", keys, err)
	}
	if err := rc.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"onsale", "reconcile", "--event", evA}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	s, stop = serveUntil(t, env)
	defer stop()
	check("after a restart and a rebuild", api{t: t, base: s.base, client: client})
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}
