package core

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/valyala/fasthttp"
)

// authenticator decides who a request comes from: organizers by the static admin token or an OIDC token with the
// organizer role; fans (when an issuer is configured) by an OIDC token's subject.
type authenticator struct {
	adminToken []byte
	role       string
	clientID   string
	verifier   *oidc.IDTokenVerifier // nil without an issuer
	keys       *keySet               // the verifier's, nil without an issuer
}

// iatLeeway is how far in the future a token's issue time may be (clock skew between onsale and the provider).
const iatLeeway = time.Minute

// claims are the parts of a token core reads. Keycloak puts realm roles in realm_access.roles and client roles in
// resource_access.<client>.roles; other providers commonly use a top-level roles claim.
type claims struct {
	Subject     string    `json:"sub"`
	Org         orgClaim  `json:"org"`
	Roles       roleClaim `json:"roles"`
	RealmAccess struct {
		Roles roleClaim `json:"roles"`
	} `json:"realm_access"`
	ResourceAccess map[string]struct {
		Roles roleClaim `json:"roles"`
	} `json:"resource_access"`
	client string // whose resource_access roles count
}

func (c *claims) hasRole(role string) bool {
	return slices.Contains(c.Roles, role) || slices.Contains(c.RealmAccess.Roles, role) ||
		(c.client != "" && slices.Contains(c.ResourceAccess[c.client].Roles, role))
}

// roleClaim reads roles given as a list or as one string; any other shape carries no role rather than failing the
// token, since a provider's mapper may send a single-valued claim as a string.
type roleClaim []string

func (r *roleClaim) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*r = roleClaim{one}
		return nil
	}
	var many []any
	*r = nil
	if json.Unmarshal(b, &many) == nil {
		for _, v := range many {
			if s, ok := v.(string); ok {
				*r = append(*r, s)
			}
		}
	}
	return nil
}

// orgClaim reads the organization a token acts for: a string, or a list of exactly one. Any other shape marks the
// claim unreadable, so the token cannot act for an organizer it does not clearly name.
type orgClaim struct {
	org string
	bad bool
}

func (o *orgClaim) UnmarshalJSON(b []byte) error {
	*o = orgClaim{}
	var one string
	var many []string
	switch {
	case string(bytes.TrimSpace(b)) == "null":
	case json.Unmarshal(b, &one) == nil:
		o.org, o.bad = one, one == ""
	case json.Unmarshal(b, &many) == nil && len(many) == 1 && many[0] != "":
		o.org = many[0]
	default:
		o.bad = true
	}
	return nil
}

// caller is who an organizer or door request comes from. The operator (the static admin token) sees every event;
// an OIDC organizer or door staff sees the events of its owner: the token's org claim, else its subject, kept
// apart ("org:" and "sub:") so that a person whose subject happens to be an organization's name is not it.
type caller struct {
	operator bool
	owner    string
}

// owns reports whether c may see and run an event owned by owner.
func (c caller) owns(owner string) bool { return c.operator || owner == c.owner }

func newAuthenticator(ctx context.Context, cfg Config, log *slog.Logger) (*authenticator, error) {
	a := &authenticator{adminToken: []byte(cfg.AdminToken), role: cfg.OrganizerRole, clientID: cfg.OIDCClientID}
	if cfg.OIDCIssuer == "" {
		return a, nil
	}
	client := &http.Client{Timeout: cfg.OIDCFetchTimeout}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), cfg.OIDCFetchTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, cfg.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("core: OIDC discovery at %s: %w", cfg.OIDCIssuer, err)
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, fmt.Errorf("core: OIDC discovery at %s: no jwks_uri", cfg.OIDCIssuer)
	}
	var algs []string
	for _, alg := range meta.Algs {
		if slices.Contains(signingAlgs, jose.SignatureAlgorithm(alg)) {
			algs = append(algs, alg)
		}
	}
	a.keys = &keySet{url: meta.JWKSURL, client: client, minGap: cfg.OIDCKeyMinGap, base: ctx, log: log}
	if cfg.OIDCClientID == "" {
		log.Warn("ONSALE_OIDC_CLIENT_ID is not set: OIDC tokens issued for any client are accepted")
	}
	a.verifier = oidc.NewVerifier(cfg.OIDCIssuer, a.keys, &oidc.Config{ClientID: cfg.OIDCClientID,
		SkipClientIDCheck: cfg.OIDCClientID == "", SupportedSigningAlgs: algs})
	return a, nil
}

var (
	errNoCredentials = problemf(401, typeUnauthorized, "a bearer token is required")
	errBadCredential = problemf(401, typeUnauthorized, "the bearer token is not valid")
	errNotOrganizer  = problemf(403, typeForbidden, "the token does not carry the organizer role")
	errNoOwner       = problemf(403, typeForbidden, "the token's org claim does not name one organization")
)

// bearer returns the token of an Authorization: Bearer header, or nil.
func bearer(ctx *fasthttp.RequestCtx) []byte {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) > 7 && (string(h[:7]) == "Bearer " || string(h[:7]) == "bearer ") {
		return bytes.TrimSpace(h[7:])
	}
	return nil
}

// organizer checks that the request carries organizer credentials and says whose.
func (a *authenticator) organizer(ctx *fasthttp.RequestCtx) (caller, error) {
	return a.staff(ctx, errNotOrganizer, a.role)
}

// door checks that the request carries door staff's credentials: an organizer's, or an OIDC token with the door
// role (scanner phones need not carry full organizer rights).
func (a *authenticator) door(ctx *fasthttp.RequestCtx) (caller, error) {
	return a.staff(ctx, errNotDoor, a.role, doorRole)
}

// staff accepts the static admin token, or an OIDC token carrying one of roles (denied answers one without).
func (a *authenticator) staff(ctx *fasthttp.RequestCtx, denied *problemError, roles ...string) (caller, error) {
	tok := bearer(ctx)
	if len(tok) == 0 {
		return caller{}, errNoCredentials
	}
	if len(a.adminToken) > 0 && subtle.ConstantTimeCompare(tok, a.adminToken) == 1 {
		return caller{operator: true}, nil
	}
	if a.verifier == nil {
		return caller{}, errBadCredential
	}
	c, err := a.verify(ctx, string(tok))
	if err != nil {
		return caller{}, err
	}
	if !slices.ContainsFunc(roles, c.hasRole) {
		return caller{}, denied
	}
	switch {
	case c.Org.bad:
		return caller{}, errNoOwner
	case c.Org.org != "":
		return caller{owner: "org:" + c.Org.org}, nil
	case c.Subject != "":
		return caller{owner: "sub:" + c.Subject}, nil
	}
	return caller{}, errBadCredential // neither an organization nor a subject to own events
}

// doorRole is the OIDC role of door staff.
const doorRole = "door"

var errNotDoor = problemf(403, typeForbidden, "the token carries neither the organizer nor the door role")

// fan returns the subject of the request's OIDC token; ok is false when no issuer is configured (dev mode, where
// the fan names itself).
func (a *authenticator) fan(ctx *fasthttp.RequestCtx) (fan string, ok bool, err error) {
	if a.verifier == nil {
		return "", false, nil
	}
	tok := bearer(ctx)
	if len(tok) == 0 {
		return "", true, errNoCredentials
	}
	c, err := a.verify(ctx, string(tok))
	if err != nil {
		return "", true, err
	}
	if c.Subject == "" {
		return "", true, errBadCredential
	}
	return c.Subject, true, nil
}

func (a *authenticator) verify(ctx context.Context, raw string) (*claims, error) {
	// go-oidc flattens the key set's error into text; the key set reports an outage through ctx instead.
	var outage bool
	tok, err := a.verifier.Verify(context.WithValue(ctx, keyOutageKey{}, &outage), raw)
	if err != nil {
		if outage {
			return nil, errKeysUnavailable // the token may be good: the provider's keys could not be had
		}
		return nil, errBadCredential
	}
	if tok.IssuedAt.After(time.Now().Add(iatLeeway)) {
		return nil, errBadCredential
	}
	c := claims{client: a.clientID}
	if err := tok.Claims(&c); err != nil {
		return nil, errBadCredential
	}
	return &c, nil
}
