package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// client sends the generator's requests through one fasthttp HostClient and records each of them.
type client struct {
	hc      *fasthttp.HostClient
	scheme  string
	host    string
	prefix  string // the base URL's path, without the trailing slash
	base    string // scheme://host/prefix, for the stream client
	timeout time.Duration
	rec     *recorder
	// lastShop is when an admitted fan last called (Unix ns): the stall measure needs to know when every shopper
	// has gone quiet.
	lastShop atomic.Int64
}

func newClient(base string, maxConns int, timeout time.Duration, rec *recorder) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q", ErrConfig, base)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	return &client{
		hc: &fasthttp.HostClient{
			Addr:                addr,
			IsTLS:               u.Scheme == "https",
			MaxConns:            maxConns,
			MaxConnWaitTimeout:  timeout, // wait for a free connection rather than fail at once
			MaxIdleConnDuration: 30 * time.Second,
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			// The generator retries by itself, with the same Idempotency-Key, and counts every attempt.
			MaxIdemponentCallAttempts: 1,
			NoDefaultUserAgentHeader:  true,
		},
		scheme:  u.Scheme,
		host:    u.Host,
		prefix:  strings.TrimSuffix(u.Path, "/"),
		base:    u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/"),
		timeout: timeout,
		rec:     rec,
	}, nil
}

// call is one request.
type call struct {
	ep         Endpoint
	method     string
	path       string // from the API root, e.g. /v1/events/x/queue
	body       []byte
	auth       string // bearer token
	queueToken string
	idemKey    string
	expect     string // a problem type that is an answer here, not a failure (e.g. conflict on a repeated confirm)
}

// reply is what came back: a status (0 when no answer came), the body, and the problem type when it failed.
type reply struct {
	status     int
	body       []byte
	problem    string        // the problem+json type, a transport problem, or "" for a 2xx
	retryAfter time.Duration // the Retry-After header, if any
}

func (r reply) ok() bool { return r.status >= 200 && r.status < 300 }

// retryable reports whether the same request may succeed if sent again: no answer, a 5xx, or a rate limit.
func (r reply) retryable() bool {
	return r.status == 0 || r.status >= 500 || r.problem == "rate-limited"
}

func (r reply) String() string {
	if r.status == 0 {
		return r.problem
	}
	return fmt.Sprintf("%d %s", r.status, r.problem)
}

// do sends one request and records it under its endpoint.
func (c *client) do(cl call) reply {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	req.Header.SetMethod(cl.method)
	req.SetRequestURI(c.scheme + "://" + c.host + c.prefix + cl.path)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(cl.body)
	}
	if cl.auth != "" {
		req.Header.Set("Authorization", "Bearer "+cl.auth)
	}
	if cl.queueToken != "" {
		req.Header.Set("Queue-Token", cl.queueToken)
	}
	if cl.idemKey != "" {
		req.Header.Set("Idempotency-Key", cl.idemKey)
	}

	start := time.Now()
	switch cl.ep {
	case EpHold, EpRelease, EpCheckout, EpConfirm, EpAuthenticate, EpOrder:
		c.lastShop.Store(start.UnixNano())
	}
	err := c.hc.DoTimeout(req, resp, c.timeout)
	elapsed := time.Since(start)
	var r reply
	if err != nil {
		r.problem = ProblemConnection
		if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) || errors.Is(err, fasthttp.ErrDialTimeout) {
			r.problem = ProblemTimeout
		}
		c.rec.record(cl.ep, elapsed, 0, r.problem)
		return r
	}
	r.status = resp.StatusCode()
	r.body = append([]byte(nil), resp.Body()...)
	if ra := resp.Header.Peek("Retry-After"); len(ra) > 0 {
		if s, err := strconv.Atoi(string(ra)); err == nil && s >= 0 {
			r.retryAfter = time.Duration(s) * time.Second
		}
	}
	if !r.ok() {
		r.problem = problemType(r.status, resp.Header.ContentType(), r.body)
	}
	failed := r.problem != "" && !expectedProblem(r.problem) && r.problem != cl.expect
	c.rec.recordAs(cl.ep, elapsed, r.status, r.problem, failed)
	return r
}

// problemType reads the type slug of a problem+json answer; other failures are named by their status.
func problemType(status int, contentType, body []byte) string {
	if bytes.Contains(contentType, []byte("json")) {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &p) == nil && p.Type != "" {
			// A type may be a URI; its last segment is the slug.
			return p.Type[strings.LastIndexByte(p.Type, '/')+1:]
		}
	}
	return "http-" + strconv.Itoa(status)
}

// doRetry sends a request until it gets an answer that is not retryable, at most 1+retries times, waiting between
// attempts; used where nothing else waits on the caller (setup, stats, settling orders).
func (c *client) doRetry(ctx context.Context, cl call, retries int) reply {
	var r reply
	for attempt := 0; ; attempt++ {
		r = c.do(cl)
		if !r.retryable() || attempt >= retries {
			return r
		}
		select {
		case <-ctx.Done():
			return r
		case <-time.After(backoff(attempt, r.retryAfter, 0)):
		}
	}
}

// backoff is how long to wait before retry attempt+1: the server's Retry-After when it gave one, else 100 ms
// doubling per attempt up to 5 s, with up to 50 % jitter from j (a uniform value in [0, 1)).
func backoff(attempt int, retryAfter time.Duration, j float64) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := 100 * time.Millisecond << min(attempt, 6)
	d = min(d, 5*time.Second)
	return d + time.Duration(j*float64(d)/2)
}

// decode reads a 2xx body into v; an unreadable one is recorded as such.
func (c *client) decode(ep Endpoint, r reply, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		c.rec.fail(ep, ProblemUndecoded)
		return fmt.Errorf("%s: decode %d answer: %w", ep, r.status, err)
	}
	return nil
}
