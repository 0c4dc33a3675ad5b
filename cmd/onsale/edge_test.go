package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// With ONSALE_METRICS_ADDR, /metrics is served there and nowhere on the API port.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	env := embeddedEnv()
	metrics := freeAddr(t)
	env["ONSALE_METRICS_ADDR"] = metrics
	s := startServe(t, env)
	if st, _ := get(t, s.base+"/metrics"); st != 404 {
		t.Errorf("API port /metrics: %d, want 404", st)
	}
	if st, _ := get(t, s.base+"/healthz"); st != 200 {
		t.Errorf("API port /healthz: %d", st)
	}
	st, body := get(t, "http://"+metrics+"/metrics")
	if st != 200 || !strings.Contains(body, "onsale_http_requests_total") {
		t.Errorf("metrics address /metrics: %d %.200s", st, body)
	}
	if st, _ := get(t, "http://"+metrics+"/v1/admin/events"); st != 404 {
		t.Errorf("metrics address serves the API: %d", st)
	}
}

// An issuer that never answers discovery fails the start within the fetch timeout instead of hanging it.
func TestStalledIssuerFailsStart(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer issuer.Close()
	defer close(stall)
	env := embeddedEnv()
	env["ONSALE_OIDC_ISSUER"] = issuer.URL
	cfg, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--log-level", "error"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- serve(context.Background(), cfg, io.Discard, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "OIDC discovery") {
			t.Errorf("serve: %v", err)
		}
		t.Logf("stalled issuer: start failed after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("a stalled issuer held the start 15 s")
	}
}
