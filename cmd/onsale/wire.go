package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/catalogue/memcatalogue"
	"github.com/onsale/onsale/catalogue/pgcatalogue"
	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/inventory"
	invmem "github.com/onsale/onsale/inventory/memstore"
	invredis "github.com/onsale/onsale/inventory/redisstore"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/amqpbus"
	"github.com/onsale/onsale/settlement/membus"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/pgledger"
	"github.com/onsale/onsale/settlement/stripepay"
	"github.com/onsale/onsale/settlement/testpay"
	"github.com/onsale/onsale/waitroom"
	roommem "github.com/onsale/onsale/waitroom/memstore"
	roomredis "github.com/onsale/onsale/waitroom/redisstore"
)

// system is the wired service: the domain services over the adapters the configuration chose.
type system struct {
	inv    inventory.Store
	room   *waitroom.Room
	settl  *settlement.Service
	tpay   *testpay.Payments // the test payment provider, when there is no Stripe key
	cat    catalogue.Index   // the public listings: PostgreSQL's when it is configured, in memory otherwise
	checks []core.Check
	pool   func() core.PoolStats
	reg    *prometheus.Registry
	// closers release the adapters in order (the inventory's batcher flushes before its client closes).
	closers []func() error
}

// close releases everything the system holds.
func (s *system) close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// build wires the adapters: each backend is the real one when its URL is configured and the embedded one otherwise.
func build(ctx context.Context, cfg config, log *slog.Logger) (_ *system, err error) {
	s := &system{reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()

	var roomStore waitroom.Store
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		client := redis.NewClient(opts)
		if err := client.Ping(ctx).Err(); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("redis at %s: %w", redact(cfg.RedisURL), err)
		}
		st, err := invredis.New(client, invredis.Options{Prefix: cfg.Prefix, Registerer: s.reg})
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("redis inventory: %w", err)
		}
		s.closers = append(s.closers, st.Close, client.Close)
		s.inv, roomStore = st, roomredis.New(client, cfg.Prefix)
		s.checks = append(s.checks, core.Check{Name: "redis", Ping: func(ctx context.Context) error { return client.Ping(ctx).Err() }})
		s.pool = func() core.PoolStats {
			p := client.PoolStats()
			return core.PoolStats{Total: p.TotalConns, Idle: p.IdleConns, Timeouts: p.Timeouts}
		}
		log.Info("inventory and waiting room on Redis", "url", redact(cfg.RedisURL), "db", opts.DB, "prefix", cfg.Prefix)
	} else {
		s.inv, roomStore = invmem.New(invmem.Options{}), roommem.New()
		log.Info("inventory and waiting room embedded in this process (set ONSALE_REDIS_URL for Redis)")
	}

	var ledger settlement.Ledger
	if cfg.DatabaseURL != "" {
		pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("postgres at %s: %w", redact(cfg.DatabaseURL), err)
		}
		s.closers = append(s.closers, func() error { pool.Close(); return nil })
		if err := pool.Ping(ctx); err != nil {
			return nil, fmt.Errorf("postgres at %s: %w", redact(cfg.DatabaseURL), err)
		}
		if cfg.Migrate {
			if err := pgledger.Migrate(ctx, pool); err != nil {
				return nil, fmt.Errorf("migrate the ledger: %w", err)
			}
		}
		if cfg.Migrate {
			if err := pgcatalogue.Migrate(ctx, pool); err != nil {
				return nil, fmt.Errorf("migrate the catalogue: %w", err)
			}
		}
		s.cat = pgcatalogue.New(pool)
		l := pgledger.New(pool)
		ledger = l
		s.checks = append(s.checks, core.Check{Name: "postgres", Ping: l.Ping})
		log.Info("ledger on PostgreSQL", "url", redact(cfg.DatabaseURL))
	} else {
		ledger = memledger.New()
		s.cat = memcatalogue.New()
		log.Warn("ledger embedded in memory: orders do not survive a restart (set ONSALE_DATABASE_URL for PostgreSQL)")
	}

	var bus settlement.Bus
	if cfg.AMQPURL != "" {
		b, err := amqpbus.Dial(ctx, cfg.AMQPURL, amqpbus.Options{Prefix: cfg.Prefix, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("rabbitmq at %s: %w", redact(cfg.AMQPURL), err)
		}
		s.closers = append(s.closers, b.Close)
		bus = b
		s.checks = append(s.checks, core.Check{Name: "rabbitmq", Ping: b.Ping})
		log.Info("bus on RabbitMQ", "url", redact(cfg.AMQPURL), "prefix", cfg.Prefix)
	} else {
		b := membus.New()
		s.closers = append(s.closers, b.Close)
		bus = b
		log.Info("bus embedded in this process (set ONSALE_AMQP_URL for RabbitMQ)")
	}

	var pay settlement.Payments
	if cfg.StripeKey != "" {
		p := stripepay.New(cfg.StripeKey, cfg.StripeAPIBase)
		s.closers = append(s.closers, p.Close)
		pay = p
		// Optional and at most every 30 s: Stripe rate-limits, and its outage must not take the queue down.
		s.checks = append(s.checks, core.Check{Name: "stripe", Ping: p.Ping, Optional: true, MinInterval: 30 * time.Second})
		log.Info("payments on Stripe", "api", cmp.Or(cfg.StripeAPIBase, "https://api.stripe.com"))
	} else {
		s.tpay = testpay.New()
		pay = s.tpay
		log.Info("payments by the test provider, with Stripe's test cards and a 3-D Secure page (set ONSALE_STRIPE_KEY for Stripe)")
	}

	s.room, err = waitroom.New(roomStore, core.Stock{Inventory: s.inv}, waitroom.Options{
		Secret: []byte(cfg.TokenSecret), IdleTTL: cfg.IdleTTL, ArrivalTTL: cfg.ClaimTTL, Registerer: s.reg, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("waiting room: %w", err)
	}
	opts := settlement.Options{WebhookSecret: cfg.StripeWebhookSecret, Registerer: s.reg, Logger: log,
		OnBooking: core.FinishOnSettled(s.room, log)}
	if s.tpay != nil {
		opts.ReturnURL = fanPageReturn
	}
	if opts.OrderURL, err = core.OrderLink(cfg.TicketKey, cfg.PublicURL); err != nil {
		return nil, fmt.Errorf("order links: %w", err)
	}
	s.settl = settlement.New(ledger, bus, pay, s.inv, opts)
	if s.tpay != nil {
		s.tpay.SetNotify(notifySettlement(s.settl, log))
	}
	return s, nil
}

// fanPageReturn is where the test provider's 3-D Secure page sends the fan back: the fan's page, on the order.
func fanPageReturn(o settlement.Order) string {
	return "/e/" + url.PathEscape(o.Event) + "?order=" + url.QueryEscape(o.ID)
}

// testPayments is the test provider as core serves it, or nil (an untyped nil: core checks for one).
func (s *system) testPayments() core.TestPayments {
	if s.tpay == nil {
		return nil
	}
	return s.tpay
}

// notifySettlement hands the test provider's payment changes to the saga, as Stripe's webhooks would.
func notifySettlement(settl *settlement.Service, log *slog.Logger) func(context.Context, string) {
	return func(ctx context.Context, pi string) {
		if err := settl.PaymentChanged(ctx, pi); err != nil {
			// The stalled-saga poller re-reads the payment later.
			log.WarnContext(ctx, "apply a test payment's change", slog.String("payment_intent", pi), slog.Any("err", err))
		}
	}
}

// redact hides a URL's password for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
