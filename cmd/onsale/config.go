package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsale/onsale/tickets"
)

// config is the service's configuration, read once from flags with ONSALE_* environment fallbacks and validated.
type config struct {
	Addr        string
	DebugAddr   string
	MetricsAddr string

	RedisURL    string
	DatabaseURL string
	AMQPURL     string
	Prefix      string // Redis key prefix and RabbitMQ exchange/queue prefix

	StripeKey           string
	StripeAPIBase       string
	StripeWebhookSecret string
	StripePublishable   string
	PublicURL           string // where fans reach the site, for links in notifications

	TokenSecret   string
	TicketKey     []byte // 32 bytes: seals the events' ticket signing keys, signs order tokens
	AdminToken    string
	OIDCIssuer    string
	OIDCClientID  string
	JoinRatePerIP float64
	Proxies       []netip.Prefix
	CORSOrigins   []string
	MaxConnsPerIP int
	Roles         []string
	Migrate       bool
	LogLevel      string
	LogFormat     string
	AuditEvery    time.Duration // how often the inventory audit runs (onsale_inventory_audit_differences)
	StatsEvery    time.Duration // how often the unit gauges are refreshed (onsale_inventory_units)
	IdleTTL       time.Duration // how long an admitted fan keeps its active slot after its last call
	ClaimTTL      time.Duration // how long an admitted fan has to show up before its slot stops counting

	// generated records which secrets were made up because none was configured (they are logged as warnings).
	generatedSecret, generatedAdmin bool
	generatedTicketKey              string
}

var allRoles = []string{"core", "waitroom", "settler"}

func (c *config) has(role string) bool { return slices.Contains(c.Roles, role) }

// parseConfig reads a command's flags; each flag's default is its environment variable, then the built-in default.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("onsale "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, finish := configFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := finish(); err != nil {
		return config{}, err
	}
	return *c, nil
}

// configFlags declares the service flags on fs; finish validates them once parsed and fills the defaults.
func configFlags(fs *flag.FlagSet, getenv func(string) string) (*config, func() error) {
	c := &config{}
	env := func(name, def string) string { return cmp.Or(getenv(name), def) }
	fs.StringVar(&c.Addr, "addr", env("ONSALE_ADDR", ":8080"), "HTTP listen address (ONSALE_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("ONSALE_METRICS_ADDR", ""), "serve /metrics on this address instead of the HTTP one, when set (ONSALE_METRICS_ADDR)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("ONSALE_DEBUG_ADDR", ""), "pprof listen address, off when empty (ONSALE_DEBUG_ADDR)")
	fs.StringVar(&c.RedisURL, "redis-url", env("ONSALE_REDIS_URL", ""), "Redis URL, database index honoured; embedded when empty (ONSALE_REDIS_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("ONSALE_DATABASE_URL", ""), "PostgreSQL URL; embedded ledger when empty (ONSALE_DATABASE_URL)")
	fs.StringVar(&c.AMQPURL, "amqp-url", env("ONSALE_AMQP_URL", ""), "RabbitMQ URL; embedded bus when empty (ONSALE_AMQP_URL)")
	fs.StringVar(&c.Prefix, "prefix", env("ONSALE_PREFIX", "onsale"), "Redis key and RabbitMQ name prefix (ONSALE_PREFIX)")
	fs.StringVar(&c.StripeKey, "stripe-key", env("ONSALE_STRIPE_KEY", ""), "Stripe secret key; test payments when empty (ONSALE_STRIPE_KEY)")
	fs.StringVar(&c.StripeAPIBase, "stripe-api-base", env("ONSALE_STRIPE_API_BASE", ""), "Stripe API base URL, e.g. stripe-mock's (ONSALE_STRIPE_API_BASE)")
	fs.StringVar(&c.StripeWebhookSecret, "stripe-webhook-secret", env("ONSALE_STRIPE_WEBHOOK_SECRET", ""), "Stripe webhook endpoint secret (ONSALE_STRIPE_WEBHOOK_SECRET)")
	fs.StringVar(&c.PublicURL, "public-url", env("ONSALE_PUBLIC_URL", ""), "the URL fans reach the site at, for the order links notifications carry; links are paths when empty (ONSALE_PUBLIC_URL)")
	fs.StringVar(&c.StripePublishable, "stripe-publishable-key", env("ONSALE_STRIPE_PUBLISHABLE_KEY", ""), "Stripe publishable key: the fan's page enters cards with Stripe's Payment Element (ONSALE_STRIPE_PUBLISHABLE_KEY)")
	fs.StringVar(&c.TokenSecret, "token-secret", env("ONSALE_TOKEN_SECRET", ""), "HMAC key of queue and access tokens, ≥ 16 bytes, shared by all replicas; random per process when empty (ONSALE_TOKEN_SECRET)")
	ticketKey := fs.String("ticket-key", env("ONSALE_TICKET_KEY", ""), "base64 of 32 bytes sealing the events' ticket keys and signing order tokens, shared by all replicas; generated and logged when empty (ONSALE_TICKET_KEY)")
	ticketKeyFile := fs.String("ticket-key-file", env("ONSALE_TICKET_KEY_FILE", ""), "file holding the ticket key, instead of -ticket-key (ONSALE_TICKET_KEY_FILE)")
	fs.StringVar(&c.AdminToken, "admin-token", env("ONSALE_ADMIN_TOKEN", ""), "static organizer token; generated and logged when empty without an OIDC issuer (ONSALE_ADMIN_TOKEN)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", env("ONSALE_OIDC_ISSUER", ""), "OIDC issuer URL verifying fans' and organizers' tokens (ONSALE_OIDC_ISSUER)")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", env("ONSALE_OIDC_CLIENT_ID", ""), "audience OIDC tokens must carry; not checked when empty, with a warning (ONSALE_OIDC_CLIENT_ID)")
	rate := fs.String("join-rate-per-ip", env("ONSALE_JOIN_RATE_PER_IP", "5"), "queue joins per second per client address, 0 = no limit (ONSALE_JOIN_RATE_PER_IP)")
	maxConns := fs.String("max-conns-per-ip", env("ONSALE_MAX_CONNS_PER_IP", "2048"), "connections open at once from one client address (an IPv6 /64), trusted proxies excepted; 0 = no limit (ONSALE_MAX_CONNS_PER_IP)")
	proxies := fs.String("trusted-proxies", env("ONSALE_TRUSTED_PROXIES", ""), "comma-separated addresses/CIDRs allowed to set X-Forwarded-For (ONSALE_TRUSTED_PROXIES)")
	cors := fs.String("cors-origins", env("ONSALE_CORS_ORIGINS", ""), "comma-separated origins (https://host[:port], or *) whose pages may call the fan API; none when empty (ONSALE_CORS_ORIGINS)")
	roles := fs.String("roles", env("ONSALE_ROLES", strings.Join(allRoles, ",")), "roles of this process: core (HTTP API, inventory loops), waitroom (admission), settler (payments) (ONSALE_ROLES)")
	migrate := fs.String("migrate", env("ONSALE_MIGRATE", "true"), "apply the ledger's migrations at start (ONSALE_MIGRATE)")
	fs.StringVar(&c.LogLevel, "log-level", env("ONSALE_LOG_LEVEL", "info"), "debug, info, warn or error (ONSALE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("ONSALE_LOG_FORMAT", "text"), "text or json (ONSALE_LOG_FORMAT)")
	auditEvery := fs.String("audit-every", env("ONSALE_AUDIT_EVERY", "1m"), "how often each event's inventory is audited (ONSALE_AUDIT_EVERY)")
	statsEvery := fs.String("stats-every", env("ONSALE_STATS_EVERY", "5s"), "how often the inventory unit gauges are refreshed (ONSALE_STATS_EVERY)")
	idleTTL := fs.String("idle-ttl", env("ONSALE_IDLE_TTL", "30s"), "how long an admitted fan keeps its active slot after its last call, 1s to 10m (ONSALE_IDLE_TTL)")
	claimTTL := fs.String("claim-ttl", env("ONSALE_CLAIM_TTL", "45s"), "how long an admitted fan has to show up before its slot stops counting, 1s to 10m (ONSALE_CLAIM_TTL)")
	return c, func() error {
		var errs []error
		var err error
		if c.JoinRatePerIP, err = strconv.ParseFloat(*rate, 64); err != nil || c.JoinRatePerIP < 0 {
			errs = append(errs, fmt.Errorf("join rate per IP %q: want a number ≥ 0", *rate))
		}
		if c.MaxConnsPerIP, err = strconv.Atoi(*maxConns); err != nil || c.MaxConnsPerIP < 0 {
			errs = append(errs, fmt.Errorf("max connections per IP %q: want an integer ≥ 0", *maxConns))
		}
		if c.Proxies, err = parsePrefixes(*proxies); err != nil {
			errs = append(errs, fmt.Errorf("trusted proxies: %w", err))
		}
		if c.CORSOrigins, err = parseOrigins(*cors); err != nil {
			errs = append(errs, fmt.Errorf("CORS origins: %w", err))
		}
		if c.Migrate, err = strconv.ParseBool(*migrate); err != nil {
			errs = append(errs, fmt.Errorf("migrate %q: want true or false", *migrate))
		}
		if c.AuditEvery, err = time.ParseDuration(*auditEvery); err != nil || c.AuditEvery < time.Second {
			errs = append(errs, fmt.Errorf("audit every %q: want a duration of at least 1s", *auditEvery))
		}
		if c.StatsEvery, err = time.ParseDuration(*statsEvery); err != nil || c.StatsEvery < 100*time.Millisecond {
			errs = append(errs, fmt.Errorf("stats every %q: want a duration of at least 100ms", *statsEvery))
		}
		if c.IdleTTL, err = time.ParseDuration(*idleTTL); err != nil || c.IdleTTL < time.Second || c.IdleTTL > 10*time.Minute {
			errs = append(errs, fmt.Errorf("idle TTL %q: want a duration from 1s to 10m (the access life)", *idleTTL))
		}
		if c.ClaimTTL, err = time.ParseDuration(*claimTTL); err != nil || c.ClaimTTL < time.Second || c.ClaimTTL > 10*time.Minute {
			errs = append(errs, fmt.Errorf("claim TTL %q: want a duration from 1s to 10m (the access life)", *claimTTL))
		}
		c.Roles = nil
		for r := range strings.SplitSeq(*roles, ",") {
			r = strings.TrimSpace(r)
			switch {
			case r == "":
			case !slices.Contains(allRoles, r):
				errs = append(errs, fmt.Errorf("unknown role %q (want core, waitroom or settler)", r))
			case !slices.Contains(c.Roles, r):
				c.Roles = append(c.Roles, r)
			}
		}
		if len(c.Roles) == 0 {
			errs = append(errs, errors.New("no role given"))
		}
		if c.TokenSecret == "" {
			c.TokenSecret, c.generatedSecret = randomHex(32), true
		} else if len(c.TokenSecret) < 16 {
			errs = append(errs, errors.New("token secret: at least 16 bytes"))
		}
		switch {
		case *ticketKey != "" && *ticketKeyFile != "":
			errs = append(errs, errors.New("ticket key: give -ticket-key or -ticket-key-file, not both"))
		case *ticketKeyFile != "":
			raw, err := os.ReadFile(*ticketKeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("ticket key file: %w", err))
			} else if c.TicketKey, err = tickets.ParseMasterKey(string(raw)); err != nil {
				errs = append(errs, fmt.Errorf("ticket key file %s: %w", *ticketKeyFile, err))
			}
		case *ticketKey != "":
			var err error
			if c.TicketKey, err = tickets.ParseMasterKey(*ticketKey); err != nil {
				errs = append(errs, fmt.Errorf("ticket key: %w", err))
			}
		default:
			k, err := tickets.GenerateMasterKey()
			if err == nil {
				c.TicketKey, err = tickets.ParseMasterKey(k)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("ticket key: %w", err))
			}
			c.generatedTicketKey = k
		}
		if c.PublicURL != "" {
			u, err := url.Parse(c.PublicURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				errs = append(errs, fmt.Errorf("public URL %q: want http(s)://host[/path]", c.PublicURL))
			}
			c.PublicURL = strings.TrimRight(c.PublicURL, "/")
		}
		if c.AdminToken == "" && c.OIDCIssuer == "" {
			c.AdminToken, c.generatedAdmin = randomHex(16), true
		}
		if strings.ContainsAny(c.Prefix, "{}") || c.Prefix == "" {
			errs = append(errs, fmt.Errorf("prefix %q: must be non-empty without braces", c.Prefix))
		}
		switch c.LogLevel {
		case "debug", "info", "warn", "error":
		default:
			errs = append(errs, fmt.Errorf("log level %q", c.LogLevel))
		}
		if c.LogFormat != "text" && c.LogFormat != "json" {
			errs = append(errs, fmt.Errorf("log format %q", c.LogFormat))
		}
		return errors.Join(errs...)
	}
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if pre, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", p)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// parseOrigins reads a comma-separated list of web origins (scheme, host and port only) or "*".
func parseOrigins(s string) ([]string, error) {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" ||
				u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
			}
			o = strings.ToLower(o)
		}
		out = append(out, o)
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
