package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/catalogue/pgcatalogue"
	"github.com/onsale/onsale/settlement/pgledger"
)

// migrate applies the ledger's migrations.
func migrate(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("migrate needs ONSALE_DATABASE_URL (or --database-url)")
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres at %s: %w", redact(cfg.DatabaseURL), err)
	}
	defer pool.Close()
	if err := pgledger.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := pgcatalogue.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "ledger and catalogue migrations applied to", redact(cfg.DatabaseURL))
	return nil
}

// reconcile rebuilds an event's inventory in Redis from the ledger (paid and in-checkout orders).
func reconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("onsale reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("event", "", "the event to reconcile (required)")
	cfg, finish := configFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	switch {
	case *event == "":
		return errors.New("reconcile needs --event")
	case cfg.DatabaseURL == "" || cfg.RedisURL == "":
		return errors.New("reconcile needs ONSALE_DATABASE_URL and ONSALE_REDIS_URL: it rebuilds Redis from the ledger")
	}
	// Reconcile touches only the ledger and the inventory; no bus or payment provider is needed.
	cfg.AMQPURL, cfg.StripeKey = "", ""
	sys, err := build(ctx, *cfg, newLogger(*cfg, stderr))
	if err != nil {
		return err
	}
	defer sys.close()
	rep, err := sys.settl.Reconcile(ctx, *event, sys.inv)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
