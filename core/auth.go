package core

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/valyala/fasthttp"
)

// authenticator decides who a request comes from: organizers by the static admin token or an OIDC token with the
// organizer role; fans (when an issuer is configured) by an OIDC token's subject.
type authenticator struct {
	adminToken []byte
	role       string
	verifier   *oidc.IDTokenVerifier // nil without an issuer
}

// claims are the parts of a token core reads. Keycloak puts realm roles in realm_access.roles; other providers
// commonly use a top-level roles claim.
type claims struct {
	Subject     string   `json:"sub"`
	Roles       []string `json:"roles"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

func (c *claims) hasRole(role string) bool {
	return slices.Contains(c.Roles, role) || slices.Contains(c.RealmAccess.Roles, role)
}

func newAuthenticator(ctx context.Context, cfg Config) (*authenticator, error) {
	a := &authenticator{adminToken: []byte(cfg.AdminToken), role: cfg.OrganizerRole}
	if cfg.OIDCIssuer == "" {
		return a, nil
	}
	// Discovery happens once at start; the key set is fetched (and refetched on an unknown key id) by go-oidc,
	// which keeps only ctx's values, not its deadline.
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, cfg.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("core: OIDC discovery at %s: %w", cfg.OIDCIssuer, err)
	}
	a.verifier = provider.Verifier(&oidc.Config{ClientID: cfg.OIDCClientID, SkipClientIDCheck: cfg.OIDCClientID == ""})
	return a, nil
}

var (
	errNoCredentials = problemf(401, typeUnauthorized, "a bearer token is required")
	errBadCredential = problemf(401, typeUnauthorized, "the bearer token is not valid")
	errNotOrganizer  = problemf(403, typeForbidden, "the token does not carry the organizer role")
)

// bearer returns the token of an Authorization: Bearer header, or nil.
func bearer(ctx *fasthttp.RequestCtx) []byte {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) > 7 && (string(h[:7]) == "Bearer " || string(h[:7]) == "bearer ") {
		return bytes.TrimSpace(h[7:])
	}
	return nil
}

// organizer checks that the request carries organizer credentials.
func (a *authenticator) organizer(ctx *fasthttp.RequestCtx) error {
	return a.staff(ctx, errNotOrganizer, a.role)
}

// door checks that the request carries door staff's credentials: an organizer's, or an OIDC token with the door
// role (scanner phones need not carry full organizer rights).
func (a *authenticator) door(ctx *fasthttp.RequestCtx) error {
	return a.staff(ctx, errNotDoor, a.role, doorRole)
}

// staff accepts the static admin token, or an OIDC token carrying one of roles (denied answers one without).
func (a *authenticator) staff(ctx *fasthttp.RequestCtx, denied *problemError, roles ...string) error {
	tok := bearer(ctx)
	if len(tok) == 0 {
		return errNoCredentials
	}
	if len(a.adminToken) > 0 && subtle.ConstantTimeCompare(tok, a.adminToken) == 1 {
		return nil
	}
	if a.verifier == nil {
		return errBadCredential
	}
	c, err := a.verify(ctx, string(tok))
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(roles, c.hasRole) {
		return denied
	}
	return nil
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
	tok, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, errBadCredential
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return nil, errBadCredential
	}
	return &c, nil
}
