// Command onsale runs the on-sale service and its operations: serve (all roles or some), demo (the whole system
// on the embedded adapters with a simulated crowd), migrate, reconcile, loadtest (a rehearsal against a running
// server, judged by a budget), version and help. Configuration is by flags with ONSALE_* environment fallbacks;
// each backend falls back on its own to the embedded adapter when its URL is unset.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise the module version is used.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "onsale:", err)
		os.Exit(1)
	}
}

// run is the whole program: args are os.Args, getenv reads the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		usage(stderr)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		cfg, err := parseConfig("serve", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr, nil)
	case "demo":
		return demo(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		cfg, err := parseConfig("migrate", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return migrate(ctx, cfg, stdout)
	case "reconcile":
		return reconcile(ctx, rest, getenv, stdout, stderr)
	case "loadtest":
		return loadtestCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "onsale", buildVersion())
		return nil
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func usage(w io.Writer) {
	fmt.Fprint(w, `onsale sells the seats of a popular on-sale to a crowd far larger than the venue, fairly.

Usage:
  onsale serve [flags]        run the service (roles core,waitroom,settler; all by default)
  onsale demo [flags]         run everything embedded with a simulated crowd, then keep serving
  onsale migrate              apply the ledger's PostgreSQL migrations (ONSALE_DATABASE_URL)
  onsale reconcile --event X  rebuild an event's Redis inventory from the ledger after Redis lost it
  onsale loadtest [flags]     rehearse an on-sale against a running server; exit 1 when the budget is missed
  onsale version              print the version
  onsale help                 print this help

Each command's flags: onsale <command> -h. Every flag has an ONSALE_* environment fallback, e.g.
--redis-url / ONSALE_REDIS_URL. A backend whose URL is unset runs embedded in the process:
no ONSALE_REDIS_URL → in-memory inventory and waiting room, no ONSALE_DATABASE_URL → in-memory ledger,
no ONSALE_AMQP_URL → in-memory bus, no ONSALE_STRIPE_KEY → the test payment provider (Stripe's test cards).
`)
}
