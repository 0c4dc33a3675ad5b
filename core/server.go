package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/catalogue/memcatalogue"
	"github.com/onsale/onsale/inventory"
)

// Config tunes the server. The zero value of each field has a sensible default (filled in by New).
type Config struct {
	// AdminToken is the static organizer token (compared in constant time). Empty disables it.
	AdminToken string
	// OIDCIssuer, when set, makes the server verify bearer tokens against the issuer's JWKS: organizers by their
	// role claim, fans by their subject. OIDCClientID, when set, must be in the token's audience.
	OIDCIssuer    string
	OIDCClientID  string
	OrganizerRole string // default "organizer"
	// OIDCFetchTimeout bounds each discovery and key set request to the issuer, default 5 s.
	OIDCFetchTimeout time.Duration
	// OIDCKeyRefresh is how often the issuer's key set is refetched, so a key it dropped stops verifying within
	// it; default 10 min.
	OIDCKeyRefresh time.Duration
	// OIDCKeyMinGap is the least time between key set fetches caused by tokens with an unknown key id, default 30 s.
	OIDCKeyMinGap time.Duration
	// JoinRatePerIP limits queue joins per second per client address; 0 turns the limit off.
	JoinRatePerIP float64
	// CORSOrigins may call the fan API from their pages ("*" for any origin); the organizer API and the door are
	// never offered to other origins.
	CORSOrigins []string
	// MaxConnsPerIP caps the connections open from one address (an IPv6 /64), trusted proxies excepted; 0 turns
	// the cap off.
	MaxConnsPerIP int
	// TrustedProxies may set the client address through X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// OpsOnly serves only /healthz, /readyz and /metrics (a process that runs background roles only).
	OpsOnly bool
	// MetricsElsewhere leaves /metrics off the API port (404), for a process that serves MetricsHandler on an
	// address of its own.
	MetricsElsewhere bool
	// Loops turns on the inventory's background loops (sweeper, stats gauges, audit).
	Loops bool
	// StripePublishableKey is handed to the fan's page, which loads Stripe.js with it; empty with the test provider.
	StripePublishableKey string
	// TicketKey (32 bytes) seals the events' ticket signing keys in the ledger and signs order tokens; a process
	// without one makes one up, so its tickets and order tokens do not outlive it.
	TicketKey []byte

	AvailabilityTTL time.Duration // availability cache lifetime, default 250 ms
	SweepEvery      time.Duration // default 1 s
	StatsEvery      time.Duration // default 5 s
	AuditEvery      time.Duration // default 60 s
	ReadyEvery      time.Duration // backend probes refreshing onsale_backend_up, default 10 s
	StreamMaxAge    time.Duration // longest queue event stream before the client must reconnect, default 30 min
	ReadTimeout     time.Duration // default 30 s
	IdleTimeout     time.Duration // default 90 s
	Concurrency     int           // fasthttp's limit of concurrent connections, default 256k
}

// Deps are the services the server fronts. Inventory, Room and Settlement are required.
type Deps struct {
	Inventory  inventory.Store
	Room       Room
	Settlement Settlement
	// Catalogue lists the events for the public search and the landing page; default in memory.
	Catalogue catalogue.Index
	Checks    []Check // pinged by /readyz
	// TestPayments, when set, serves /v1/test-payments/… and the test 3-D Secure page (no Stripe key).
	TestPayments TestPayments
	// RedisPool, when set, reports the Redis connection pool for onsale_redis_pool_*.
	RedisPool func() PoolStats
	// Registerer receives the core metrics; Gatherer serves /metrics. Both default to the prometheus defaults.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Logger     *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Server is the seat-hold HTTP service.
type Server struct {
	cfg     Config
	inv     inventory.Store
	room    Room
	settl   Settlement
	tpay    TestPayments
	tickets *ticketing
	// catalogue and statuses serve GET /v1/events and GET /.
	catalogue catalogue.Index
	statuses  statusCache
	log       *slog.Logger
	now       func() time.Time

	srv      *fasthttp.Server
	metrics  *metrics
	patterns []*pattern
	checks   []Check
	pingMu   sync.Mutex
	pinged   map[string]pingResult // last answers of checks with a MinInterval
	auth     *authenticator
	conns    *connLimiter // nil without a cap
	cors     *corsPolicy  // nil without CORS origins
	joins    *ipLimiter
	avail    *availabilityCache
	seatMaps *seatsCache
	ids      names // event and section ids read without allocating
	gatherer prometheus.Gatherer

	metricsHandler fasthttp.RequestHandler

	// base is cancelled at shutdown: it ends event streams and background loops.
	base     context.Context
	stop     context.CancelFunc
	loops    sync.WaitGroup
	loopOnce sync.Once
}

// New builds a server; it does not listen yet (Serve does).
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Inventory == nil || deps.Room == nil || deps.Settlement == nil {
		return nil, errors.New("core: Inventory, Room and Settlement are required")
	}
	cfg.OrganizerRole = cmp.Or(cfg.OrganizerRole, "organizer")
	cfg.AvailabilityTTL = cmp.Or(cfg.AvailabilityTTL, 250*time.Millisecond)
	cfg.SweepEvery = cmp.Or(cfg.SweepEvery, time.Second)
	cfg.StatsEvery = cmp.Or(cfg.StatsEvery, 5*time.Second)
	cfg.AuditEvery = cmp.Or(cfg.AuditEvery, time.Minute)
	cfg.ReadyEvery = cmp.Or(cfg.ReadyEvery, 10*time.Second)
	cfg.StreamMaxAge = cmp.Or(cfg.StreamMaxAge, 30*time.Minute)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 30*time.Second)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 90*time.Second)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 256*1024)
	cfg.OIDCFetchTimeout = cmp.Or(cfg.OIDCFetchTimeout, 5*time.Second)
	cfg.OIDCKeyRefresh = cmp.Or(cfg.OIDCKeyRefresh, 10*time.Minute)
	cfg.OIDCKeyMinGap = cmp.Or(cfg.OIDCKeyMinGap, 30*time.Second)
	if cfg.JoinRatePerIP < 0 {
		return nil, fmt.Errorf("core: join rate per IP %v is negative", cfg.JoinRatePerIP)
	}
	reg := cmp.Or[prometheus.Registerer](deps.Registerer, prometheus.DefaultRegisterer)
	s := &Server{
		cfg:       cfg,
		inv:       deps.Inventory,
		room:      deps.Room,
		settl:     deps.Settlement,
		tpay:      deps.TestPayments,
		catalogue: cmp.Or[catalogue.Index](deps.Catalogue, memcatalogue.New()),
		log:       cmp.Or(deps.Logger, slog.Default()),
		now:       deps.Now,
		checks:    deps.Checks,
		pinged:    map[string]pingResult{},
		gatherer:  cmp.Or[prometheus.Gatherer](deps.Gatherer, prometheus.DefaultGatherer),
	}
	if deps.Now == nil {
		s.now = time.Now
	}
	s.base, s.stop = context.WithCancel(context.Background())
	var err error
	if s.auth, err = newAuthenticator(s.base, cfg, s.log); err != nil {
		return nil, err
	}
	if s.tickets, err = newTicketing(s.settl, cfg.TicketKey, s.now); err != nil {
		return nil, err
	}
	s.joins = newIPLimiter(cfg.JoinRatePerIP, 100_000)
	s.avail = newAvailabilityCache(cfg.AvailabilityTTL, s.inv, s.catalogue, s.now)
	s.seatMaps = newSeatsCache(time.Second, s.inv, s.now)
	s.metricsHandler = newMetricsHandler(s)
	s.cors = newCORSPolicy(cfg.CORSOrigins)
	s.patterns = s.routes()
	s.metrics = newMetrics(reg, s.patterns, deps.RedisPool, s.checks)
	s.conns = newConnLimiter(cfg.MaxConnsPerIP, cfg.TrustedProxies, s.metrics.connsRefused.Inc)
	s.srv = &fasthttp.Server{
		Name:                  "onsale",
		Handler:               s.handle,
		ErrorHandler:          s.parseError,
		MaxRequestBodySize:    maxReadBody,
		ReadBufferSize:        readBufferSize,
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		Concurrency:           cfg.Concurrency,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: true,
		Logger:                fasthttpLogger{s.log},
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown; it also starts the background loops (once).
func (s *Server) Serve(ln net.Listener) error {
	s.loopOnce.Do(s.startLoops)
	return s.srv.Serve(lazyDeadlineListener{Listener: ln, conns: s.conns})
}

// MetricsHandler answers GET /metrics alone, for an address of its own (see Config.MetricsElsewhere).
func (s *Server) MetricsHandler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch {
		case string(ctx.Path()) != "/metrics":
			writeProblem(ctx, errNotFoundRoute)
		case !ctx.IsGet() && !ctx.IsHead():
			writeProblem(ctx, problemf(405, typeBadRequest, "this resource answers GET, HEAD"))
			ctx.Response.Header.Set("Allow", "GET, HEAD")
		default:
			s.metricsHandler(ctx)
		}
	}
}

// Handler returns the server's request handler (for in-memory tests and benchmarks).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Shutdown stops accepting connections, ends event streams, waits for in-flight requests (until ctx ends) and
// stops the background loops. Closing the adapters (flushing batches, closing pools) is the caller's, after this.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	err := s.srv.ShutdownWithContext(ctx)
	done := make(chan struct{})
	go func() { s.loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("background loops: %w", ctx.Err()))
	}
	return err
}

// handle is the root handler: recovery, metrics, routing.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := ctx.Time() // fasthttp reads the clock as the request starts; a bare test context has none
	if start.IsZero() {
		start = time.Now()
	}
	s.metrics.inflight.Add(1)
	r, arg := s.match(ctx)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving request", slog.String("method", string(ctx.Method())),
				slog.String("path", string(ctx.Path())), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			writeProblem(ctx, &problemError{status: 500, typ: typeInternal, title: titleOf(typeInternal), detail: "internal error"})
		}
		s.metrics.inflight.Add(-1)
		r.observe(ctx.Response.StatusCode(), time.Since(start))
	}()
	var err error
	if len(ctx.Request.Header.RawHeaders()) > maxHeaderBytes+2 { // the block ends with an empty line
		err = errHeadersTooLarge
	} else if !r.rawBody {
		err = jsonBody(ctx)
	}
	if err == nil {
		err = r.h(ctx, arg)
	}
	if err != nil {
		s.fail(ctx, err)
	}
	if r.cors && s.cors != nil {
		s.corsHeaders(ctx)
	}
}

// maxHeaderBytes is the most header fields a request may carry (large OIDC tokens fit); readBufferSize adds room for
// the request line. A block the buffer cannot hold fails fasthttp's parse (parseError); one it holds but over
// maxHeaderBytes fails in handle: both answer 431.
const (
	maxHeaderBytes = 16 << 10
	readBufferSize = maxHeaderBytes + 4<<10
)

var errHeadersTooLarge = &problemError{status: 431, typ: typeTooLarge, title: "Request header fields too large",
	detail: "the request's header fields are larger than 16 KiB"}

// parseError answers requests fasthttp could not read: oversized headers get 431 and an oversized body 413 (both
// too-large), anything else 400.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		// A connection that sent no (complete) request within ReadTimeout, such as one an HTTP client dialled
		// ahead and never used: close it without an answer, as net/http does. A 400 here reaches the client as an
		// unsolicited response on an idle connection, and it is no request to count.
		_ = ctx.Conn().Close()
		return
	}
	if _, ok := errors.AsType[*fasthttp.ErrSmallBuffer](err); ok {
		writeProblem(ctx, errHeadersTooLarge)
		// The rest of the headers is unread; closing now would reset the connection and lose the answer.
		if c, ok := ctx.Conn().(*lazyDeadlineConn); ok {
			c.linger.Store(true)
		}
	} else if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeProblem(ctx, errTooLarge)
	} else {
		writeProblem(ctx, badRequest("the request could not be read"))
	}
	s.metrics.requests.WithLabelValues("unparsed", "", fmt.Sprint(ctx.Response.StatusCode())).Inc()
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), slog.String("component", "fasthttp"))
}

// lazyDeadlineListener hands out connections whose read deadline is moved in the runtime only when it must come
// earlier. fasthttp sets two read deadlines per request (the idle time, then the read timeout at the first byte),
// each a timer update in the network poller; a deadline left earlier than asked for may fire first, and Read then
// moves it to the one asked for and reads on, so a timeout still ends a read exactly when it was asked to.
// It also applies the per-address connection cap.
type lazyDeadlineListener struct {
	net.Listener
	conns *connLimiter // nil without a cap
}

func (l lazyDeadlineListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.conns.take(c.RemoteAddr())
		if !ok {
			l.conns.refuse(c)
			continue
		}
		return &lazyDeadlineConn{Conn: c, conns: l.conns, key: key}, nil
	}
}

type lazyDeadlineConn struct {
	net.Conn
	mu     sync.Mutex // fasthttp's loop and Shutdown may both set deadlines
	want   time.Time  // the read deadline asked for; zero for none
	armed  time.Time  // the read deadline set on the connection; zero for none
	linger atomic.Bool
	conns  *connLimiter
	key    netip.Addr // what the connection counts against in conns
	closed atomic.Bool
}

// Close closes the connection; one answered with unread request bytes (linger) is shut for writing first and
// drained for a moment, so that the client reads the answer instead of a reset.
func (c *lazyDeadlineConn) Close() error {
	if !c.closed.Swap(true) {
		c.conns.release(c.key)
	}
	if !c.linger.Load() {
		return c.Conn.Close()
	}
	go func() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		_ = c.Conn.Close()
	}()
	return nil
}

// lingerFor and lingerBytes bound the draining of a connection closed with its request unread.
const (
	lingerFor   = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

func (c *lazyDeadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = t
	if !t.IsZero() && !c.armed.IsZero() && !c.armed.After(t) {
		return nil // it fires no later than asked; Read extends it if it fires first
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.armed = t
	return nil
}

func (c *lazyDeadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.want, c.armed = t, t
	return nil
}

func (c *lazyDeadlineConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !c.extend() {
			return n, err
		}
	}
}

// extend moves a deadline that fired before the one asked for to that one; false when the one asked for has passed.
func (c *lazyDeadlineConn) extend() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed.Equal(c.want) || (!c.want.IsZero() && !time.Now().Before(c.want)) {
		return false
	}
	if err := c.Conn.SetReadDeadline(c.want); err != nil {
		return false
	}
	c.armed = c.want
	return true
}
