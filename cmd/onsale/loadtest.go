package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/onsale/onsale/loadtest"
)

// loadtestCmd rehearses an on-sale against a running server with a crowd of simulated fans (package loadtest),
// writes the reports and checks the budget; a missed budget is an error wrapping loadtest.ErrBudget.
func loadtestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("onsale loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadtest.Flags(fs)
	// Flags takes its defaults from the process environment; every command here reads it through getenv, and
	// the organizer token must not show up as a default in -h.
	if err := envDefault(fs, "base", cmp.Or(getenv("ONSALE_LOADTEST_BASE"), loadtest.Defaults().Base), true); err != nil {
		return err
	}
	if err := envDefault(fs, "admin", getenv("ONSALE_ADMIN_TOKEN"), false); err != nil {
		return err
	}
	fs.Lookup("base").Usage += " (ONSALE_LOADTEST_BASE)"
	fs.Lookup("admin").Usage += " (ONSALE_ADMIN_TOKEN)"
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: onsale loadtest -base URL -admin TOKEN [flags]

Sends a crowd of simulated fans through an on-sale on a running server (queue, hold, checkout, with abandonment
at every step), pays the way fans do (in the page, with 3-D Secure passed, failed or too late, declines, and
server-confirmed cards; the -pay-* shares), audits it for oversell and for late authorizations captured, checks it
against -budget and writes -json and -html reports. With -door, gates then scan every paid ticket at -door-rate
(tickets shown twice, exits and re-entries, forged codes, refunded tickets, replayed nonces: the -door-* shares)
and the door is audited too.
Exit status 1 when the budget is missed or the run cannot start. See loadtest/README.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage was asked for and printed
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected arguments %q", fs.Args())
	}
	if err := loadtest.Execute(ctx, *cfg, stdout, stderr); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	return nil
}

// envDefault makes value the default of the named flag; shown says whether -h may print it.
func envDefault(fs *flag.FlagSet, name, value string, shown bool) error {
	f := fs.Lookup(name)
	if f == nil {
		return fmt.Errorf("loadtest: no -%s flag", name)
	}
	if err := f.Value.Set(value); err != nil {
		return fmt.Errorf("loadtest: default of -%s: %w", name, err)
	}
	if shown {
		f.DefValue = value
	} else {
		f.DefValue = ""
	}
	return nil
}
