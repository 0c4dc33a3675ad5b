package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet is the provider's JWKS as the verifier sees it. go-oidc's RemoteKeySet refetches the set for every token
// whose key id it does not know, so each forged token costs the provider a request, and a key the provider dropped
// stays trusted until such a token comes. keySet instead refreshes on a schedule (refresh), and fetches on an unknown
// key id at most once per minGap; every fetch is bounded by the HTTP client's timeout.
type keySet struct {
	url    string
	client *http.Client
	minGap time.Duration
	base   context.Context // cancelled at shutdown
	log    *slog.Logger

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	loaded   bool      // a fetch has succeeded once
	lastAsk  time.Time // start of the last fetch caused by a token
	failed   bool      // the last fetch, whatever its cause, failed
	inflight *keyFetch
}

// keyOutageKey carries a *bool the key set sets when it could not fetch the keys a token needs.
type keyOutageKey struct{}

// keyFetch is one fetch that concurrent callers share.
type keyFetch struct {
	done chan struct{}
	err  error
}

var (
	errKeysUnavailable = &problemError{status: 503, typ: typeUnavailable, title: titleOf(typeUnavailable),
		detail: "the identity provider's keys could not be fetched", retryAfter: 5}
	errUnknownKey = errors.New("oidc: no key of the provider verifies the token")
)

// signingAlgs are the asymmetric algorithms a provider's key set may sign with.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// VerifySignature implements oidc.KeySet: the payload of a token signed by one of the provider's keys.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	payload, known := k.try(jws, kid)
	if payload != nil {
		return payload, nil
	}
	if known {
		return nil, errUnknownKey // a known key that does not verify: no fetch can help
	}
	if err := k.fetchForToken(ctx); err != nil {
		if o, ok := ctx.Value(keyOutageKey{}).(*bool); ok {
			*o = true
		}
		return nil, err
	}
	if payload, _ = k.try(jws, kid); payload != nil {
		return payload, nil
	}
	return nil, errUnknownKey
}

// try verifies jws with the cached keys of kid (all keys when kid is empty); known says a key of that id is cached.
func (k *keySet) try(jws *jose.JSONWebSignature, kid string) (payload []byte, known bool) {
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		known = kid != ""
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true
		}
	}
	return nil, known
}

// fetchForToken refetches the set for a token whose key is not cached, at most once per minGap. It answers
// errKeysUnavailable when the set it would need cannot be had: the fetch failed, or no fetch ever succeeded.
func (k *keySet) fetchForToken(ctx context.Context) error {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		if time.Since(k.lastAsk) < k.minGap {
			failed := k.failed || !k.loaded
			k.mu.Unlock()
			if failed {
				return errKeysUnavailable
			}
			return nil // the set is recent enough: the key is not the provider's
		}
		k.lastAsk = time.Now()
		f = k.startLocked()
	}
	k.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return errKeysUnavailable
	}
	if f.err != nil {
		return errKeysUnavailable
	}
	return nil
}

// refresh fetches the set on the schedule, so a key the provider dropped stops verifying.
func (k *keySet) refresh(context.Context) {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		f = k.startLocked()
	}
	k.mu.Unlock()
	<-f.done
}

func (k *keySet) startLocked() *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	k.inflight = f
	go func() {
		keys, err := k.fetch()
		k.mu.Lock()
		if err == nil {
			k.keys, k.loaded = keys, true
		}
		k.failed = err != nil
		k.inflight = nil
		k.mu.Unlock()
		if err != nil && k.base.Err() == nil {
			k.log.Warn("OIDC key set fetch failed; the cached keys stay in use", slog.String("url", k.url), slog.Any("err", err))
		}
		f.err = err
		close(f.done)
	}()
	return f
}

// maxJWKS bounds the key set document read from the provider.
const maxJWKS = 1 << 20

func (k *keySet) fetch() ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(k.base, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKS))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", k.url, res.Status)
	}
	return parseJWKS(body)
}

// parseJWKS reads the public signing keys of a set, skipping keys of types or algorithms go-jose does not know
// (RFC 7517 §5) rather than failing the whole set.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var meta struct {
			Alg string `json:"alg"`
			Use string `json:"use"`
		}
		if json.Unmarshal(r, &meta) != nil || (meta.Use != "" && meta.Use != "sig") ||
			(meta.Alg != "" && !slices.Contains(signingAlgs, jose.SignatureAlgorithm(meta.Alg))) {
			continue
		}
		var key jose.JSONWebKey
		if err := json.Unmarshal(r, &key); err != nil {
			continue
		}
		if pub := key.Public(); pub.Valid() { // a symmetric key has no public half and is dropped
			keys = append(keys, pub)
		}
	}
	return keys, nil
}
