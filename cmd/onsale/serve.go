package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/core"
)

// shutdownGrace bounds a graceful shutdown: in-flight requests, event streams and background loops.
const shutdownGrace = 25 * time.Second

// serve runs the configured roles until ctx ends. ready, when set, hears the HTTP address once it listens.
func serve(ctx context.Context, cfg config, stderr io.Writer, ready func(addr string)) error {
	log := newLogger(cfg, stderr)
	if cfg.generatedSecret {
		log.Warn("ONSALE_TOKEN_SECRET is not set: queue and access tokens use a random key of this process, " +
			"so they do not survive a restart and replicas do not accept each other's")
	}
	if cfg.generatedTicketKey != "" {
		log.Warn("ONSALE_TICKET_KEY is not set: generated one for this process; set it to keep tickets signable "+
			"after a restart", "ticket_key", cfg.generatedTicketKey)
	}
	if cfg.generatedAdmin {
		log.Warn("ONSALE_ADMIN_TOKEN is not set: generated one for this process", "admin_token", cfg.AdminToken)
	}
	sys, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := sys.close(); err != nil {
			log.Error("close backends", "err", err)
		}
	}()
	srv, err := core.New(core.Config{
		AdminToken: cfg.AdminToken, OIDCIssuer: cfg.OIDCIssuer, OIDCClientID: cfg.OIDCClientID,
		JoinRatePerIP: cfg.JoinRatePerIP, TrustedProxies: cfg.Proxies, CORSOrigins: cfg.CORSOrigins,
		MaxConnsPerIP: cfg.MaxConnsPerIP, MetricsElsewhere: cfg.MetricsAddr != "",
		OpsOnly: !cfg.has("core"), Loops: cfg.has("core"),
		AuditEvery: cfg.AuditEvery, StatsEvery: cfg.StatsEvery, StripePublishableKey: cfg.StripePublishable,
		TicketKey: cfg.TicketKey,
	}, core.Deps{Inventory: sys.inv, Room: sys.room, Settlement: sys.settl, Catalogue: sys.cat, TestPayments: sys.testPayments(), Checks: sys.checks,
		RedisPool: sys.pool, Registerer: sys.reg, Gatherer: sys.reg, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return runServer(ctx, cfg, log, sys, srv, ln, ready)
}

// runServer serves ln and runs the background roles until ctx ends or one of them fails, then shuts down in order:
// stop taking requests (finishing those in flight), then stop the roles.
func runServer(ctx context.Context, cfg config, log *slog.Logger, sys *system, srv *core.Server, ln net.Listener, ready func(string)) error {
	addr := ln.Addr().String()
	log.Info("onsale serving", "addr", addr, "roles", cfg.Roles, "version", buildVersion(),
		"oidc", cfg.OIDCIssuer != "", "join_rate_per_ip", cfg.JoinRatePerIP)
	roleCtx, stopRoles := context.WithCancel(context.Background())
	defer stopRoles()
	var wg sync.WaitGroup
	failed := make(chan error, 4)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil {
			failed <- fmt.Errorf("http: %w", err)
		}
	})
	if cfg.has("waitroom") {
		wg.Go(func() {
			if err := sys.room.Run(roleCtx); err != nil && roleCtx.Err() == nil {
				failed <- fmt.Errorf("waiting room: %w", err)
			}
		})
	}
	if cfg.has("settler") {
		wg.Go(func() {
			if err := sys.settl.Run(roleCtx); err != nil && roleCtx.Err() == nil {
				failed <- fmt.Errorf("settlement: %w", err)
			}
		})
	}
	var metricsSrv *fasthttp.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			stopRoles()
			wg.Wait()
			return fmt.Errorf("metrics listen on %s: %w", cfg.MetricsAddr, err)
		}
		metricsSrv = &fasthttp.Server{Name: "onsale", Handler: srv.MetricsHandler(), ReadTimeout: 10 * time.Second,
			IdleTimeout: time.Minute, NoDefaultServerHeader: true, CloseOnShutdown: true}
		wg.Go(func() { _ = metricsSrv.Serve(mln) })
		log.Info("metrics serving", "addr", mln.Addr().String())
	}
	var debugSrv *http.Server
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			if metricsSrv != nil {
				_ = metricsSrv.Shutdown()
			}
			stopRoles()
			wg.Wait()
			return fmt.Errorf("debug listen on %s: %w", cfg.DebugAddr, err)
		}
		debugSrv = &http.Server{Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() { _ = debugSrv.Serve(dln) })
		log.Info("pprof serving", "addr", dln.Addr().String())
	}
	if ready != nil {
		ready(addr)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-failed:
		log.Error("shutting down after a failure", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	if metricsSrv != nil {
		_ = metricsSrv.ShutdownWithContext(sctx)
	}
	if debugSrv != nil {
		_ = debugSrv.Shutdown(sctx)
	}
	stopRoles()
	wg.Wait()
	log.Info("stopped")
	return runErr
}

func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
