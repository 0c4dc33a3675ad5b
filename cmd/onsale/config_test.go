package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"ONSALE_ADDR": ":9000", "ONSALE_REDIS_URL": "redis://r:6379/2", "ONSALE_JOIN_RATE_PER_IP": "0",
		"ONSALE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1", "ONSALE_ROLES": "core,settler",
		"ONSALE_TOKEN_SECRET": "0123456789abcdef", "ONSALE_ADMIN_TOKEN": "adm", "ONSALE_AUDIT_EVERY": "5s",
		"ONSALE_IDLE_TTL": "45s", "ONSALE_CLAIM_TTL": "90s", "ONSALE_TICKET_KEY": "bGFwdG9wLXRpY2tldC1rZXktY2hhbmdlLW1lLTMyYiE=",
		"ONSALE_CORS_ORIGINS": "https://Fans.example/, http://localhost:3000", "ONSALE_MAX_CONNS_PER_IP": "0",
	}
	c, err := parseConfig("serve", []string{"--addr", ":9100"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Addr != ":9100": // a flag beats the environment
		t.Errorf("addr %q", c.Addr)
	case c.RedisURL != "redis://r:6379/2" || c.JoinRatePerIP != 0 || c.AdminToken != "adm" || c.generatedAdmin || c.generatedSecret:
		t.Errorf("environment not used: %+v", c)
	case len(c.Proxies) != 2 || c.Proxies[1].String() != "192.168.1.1/32":
		t.Errorf("proxies %v", c.Proxies)
	case !c.has("core") || !c.has("settler") || c.has("waitroom"):
		t.Errorf("roles %v", c.Roles)
	case !c.Migrate || c.Prefix != "onsale":
		t.Errorf("defaults %+v", c)
	case c.AuditEvery != 5*time.Second || c.StatsEvery != 5*time.Second:
		t.Errorf("loop intervals: audit %v, stats %v", c.AuditEvery, c.StatsEvery)
	case c.IdleTTL != 45*time.Second || c.ClaimTTL != 90*time.Second:
		t.Errorf("idle TTL %v, claim TTL %v", c.IdleTTL, c.ClaimTTL)
	case c.MaxConnsPerIP != 0:
		t.Errorf("max conns per IP %d", c.MaxConnsPerIP)
	case len(c.CORSOrigins) != 2 || c.CORSOrigins[0] != "https://fans.example" || c.CORSOrigins[1] != "http://localhost:3000":
		t.Errorf("CORS origins %q", c.CORSOrigins)
	case string(c.TicketKey) != "laptop-ticket-key-change-me-32b!" || c.generatedTicketKey != "":
		t.Errorf("ticket key %q (generated %q)", c.TicketKey, c.generatedTicketKey)
	}

	d, err := parseConfig("serve", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr != ":8080" || d.JoinRatePerIP != 5 || len(d.Roles) != 3 || d.AuditEvery != time.Minute || d.IdleTTL != 30*time.Second || d.ClaimTTL != 45*time.Second || d.MaxConnsPerIP != 2048 || !d.generatedAdmin || !d.generatedSecret || len(d.TokenSecret) < 32 ||
		len(d.TicketKey) != 32 || d.generatedTicketKey == "" {
		t.Errorf("defaults %+v", d)
	}
	o, err := parseConfig("serve", []string{"--oidc-issuer", "https://id.example/realms/onsale"}, func(string) string { return "" }, io.Discard)
	if err != nil || o.AdminToken != "" || o.generatedAdmin {
		t.Errorf("with an issuer no static admin token is made up: %+v %v", o, err)
	}

	for _, bad := range [][]string{
		{"--join-rate-per-ip", "-1"}, {"--join-rate-per-ip", "fast"}, {"--roles", "core,cashier"}, {"--roles", ""},
		{"--token-secret", "short"}, {"--trusted-proxies", "not-an-ip"}, {"--prefix", "a{b}"}, {"--log-level", "loud"},
		{"--migrate", "perhaps"}, {"--no-such-flag"}, {"extra-argument"},
		{"--audit-every", "0s"}, {"--audit-every", "often"}, {"--stats-every", "1ms"},
		{"--idle-ttl", "0s"}, {"--idle-ttl", "11m"}, {"--idle-ttl", "soon"},
		{"--claim-ttl", "0s"}, {"--claim-ttl", "11m"}, {"--claim-ttl", "soon"},
		{"--public-url", "tickets.example"}, {"--public-url", "ftp://tickets.example"}, {"--public-url", "https://t.example/?a=1"},
		{"--max-conns-per-ip", "-1"}, {"--max-conns-per-ip", "many"},
		{"--cors-origins", "fans.example"}, {"--cors-origins", "https://fans.example/app"}, {"--cors-origins", "ftp://f.example"},
		{"--ticket-key", "c2hvcnQ="}, {"--ticket-key", "not base64!"}, {"--ticket-key-file", "/no/such/file"},
		{"--ticket-key", "bGFwdG9wLXRpY2tldC1rZXktY2hhbmdlLW1lLTMyYiE=", "--ticket-key-file", "/etc/hostname"},
	} {
		if _, err := parseConfig("serve", bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	none := func(string) string { return "" }
	if err := run(context.Background(), []string{"onsale", "version"}, none, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "onsale ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"onsale", "help"}, none, &out, io.Discard); err != nil || !strings.Contains(out.String(), "onsale serve") {
		t.Errorf("help: %v", err)
	}
	for _, args := range [][]string{{"onsale"}, {"onsale", "dance"}, {"onsale", "migrate"}, {"onsale", "reconcile"},
		{"onsale", "reconcile", "--event", "x"}, {"onsale", "demo", "--fans", "0"}} {
		if err := run(context.Background(), args, none, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestDemo runs the demo with a small crowd and checks its summary.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"onsale", "demo", "--addr", "127.0.0.1:0", "--fans", "120", "--capacity", "40",
		"--arrival", "200ms", "--keep=false"}, func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" of 240 units", "120 joined, 120 admitted", "queue wait", "holds/s", "/e/demo", " 0 errors"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, out.String())
		}
	}
}
