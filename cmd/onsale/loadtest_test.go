package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsale/onsale/loadtest"
)

// ltArgs is a small, quick on-sale: a crowd several times the venue, arriving at once, with short holds and pauses
// so that the run ends within seconds.
func ltArgs(base string, fans, capacity string, extra ...string) []string {
	return append([]string{"onsale", "loadtest", "-base", base, "-fans", fans, "-capacity", capacity,
		"-arrival", "spike", "-window", "300ms", "-hold-ttl", "2s", "-checkout-ttl", "2s", "-max-active", "200",
		// No fan walks away once admitted: an idle admitted fan keeps an active slot for the waiting room's idle
		// time (2 min), longer than this run, and with the last units left that slot is the one the queue needs.
		// For the same reason every payment is confirmed by the server and succeeds: units that come back from a
		// failed payment would find the fans told sold-out meanwhile still holding their slots.
		"-think", "20ms", "-patience", "1s", "-abandon-admitted", "0", "-abandon-hold", "0", "-abandon-checkout", "0",
		"-pay-server", "1", "-pay-3ds", "0", "-pay-3ds-fail", "0", "-pay-late", "0", "-decline", "0",
		"-sse", "0.05", "-max-sse", "10",
		"-workers", "32", "-max-conns", "64", "-duration", "60s", "-settle", "10s", "-order-poll", "20ms", "-sample", "100ms",
		"-seed", "11"}, extra...)
}

func writeBudget(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadtestCommand runs `onsale loadtest` against an in-process `onsale serve`: a small on-sale sells out, the
// doors open with every kind of scan in the mix, the JSON report on disk shows both audits passed and a lenient
// budget is met; then an impossible budget is missed, which the command reports as an error wrapping
// loadtest.ErrBudget (exit status 1).
func TestLoadtestCommand(t *testing.T) {
	t.Parallel()
	s := startServe(t, embeddedEnv())
	dir := t.TempDir()
	report, page := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	lenient := writeBudget(t, dir, "lenient.json", `{
		"endpoints": {"join": {"p99_ms": 10000, "error_rate": 0}, "hold": {"p99_ms": 10000, "error_rate": 0}},
		"overall": {"max_error_rate": 0, "audit_must_pass": true, "max_sellout_s": 60}}`)
	none := func(string) string { return "" }

	var out bytes.Buffer
	door := []string{"-door", "-door-gates", "3", "-door-rate", "400", "-door-twice", "0.2", "-door-forged", "0.2",
		"-door-revoked", "0.1", "-door-reentry", "0.1", "-door-replay", "0.1"}
	err := run(t.Context(), ltArgs(s.base, "300", "40", append([]string{"-admin", s.admin, "-budget", lenient, "-json", report, "-html", page}, door...)...),
		none, &out, io.Discard)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Event    string           `json:"event"`
		Created  bool             `json:"created"`
		Fans     map[string]int64 `json:"fans"`
		SellOutS *float64         `json:"sellout_s"`
		Audit    struct {
			Checked, Passed bool
			Capacity, Sold  int
			PaidUnits       int `json:"paid_units"`
		} `json:"audit"`
		Door *struct {
			Tickets  int `json:"tickets"`
			Refunded int `json:"refunded"`
			Classes  []struct {
				Class      string `json:"class"`
				Scans      int    `json:"scans"`
				Unexpected int    `json:"unexpected"`
			} `json:"classes"`
			Audit struct {
				Checked, Passed bool
				Entered         int `json:"entered"`
				StatsCheckedIn  int `json:"stats_checked_in"`
			} `json:"audit"`
		} `json:"door"`
		Violations []json.RawMessage `json:"violations"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	switch {
	case !rep.Created || rep.Event == "":
		t.Errorf("the run did not create its event: %q", rep.Event)
	case !rep.Audit.Checked || !rep.Audit.Passed:
		t.Errorf("audit: %+v", rep.Audit)
	case rep.Audit.Capacity != 40 || rep.Audit.Sold != 40 || rep.Audit.PaidUnits != 40 || rep.SellOutS == nil:
		t.Errorf("not sold out: %+v, sell-out %v", rep.Audit, rep.SellOutS)
	case len(rep.Violations) != 0:
		t.Errorf("violations of a lenient budget: %s", rep.Violations)
	}
	switch d := rep.Door; {
	case d == nil:
		t.Error("the report has no door")
	case !d.Audit.Checked || !d.Audit.Passed || d.Tickets != 40 || d.Refunded == 0 || d.Audit.Entered == 0 ||
		d.Audit.StatsCheckedIn != d.Audit.Entered || len(d.Classes) != 8:
		t.Errorf("door: %+v", *d)
	default:
		for _, c := range d.Classes {
			if c.Scans == 0 || c.Unexpected != 0 {
				t.Errorf("door scans %+v", c)
			}
		}
	}
	var total int64
	for _, n := range rep.Fans {
		total += n
	}
	if total != 300 {
		t.Errorf("fans in the report: %v (%d, want 300)", rep.Fans, total)
	}
	for _, want := range []string{"audit: passed", "door audit: passed", "checkin "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, out.String())
		}
	}
	if html, err := os.ReadFile(page); err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("HTML report: %v (%d bytes)", err, len(html))
	}

	// The token comes from the environment this time, through run's getenv.
	impossible := writeBudget(t, dir, "impossible.json", `{"endpoints": {"join": {"p99_ms": 0.001}}}`)
	env := func(k string) string { return map[string]string{"ONSALE_ADMIN_TOKEN": s.admin}[k] }
	out.Reset()
	err = run(t.Context(), ltArgs(s.base, "60", "10", "-budget", impossible), env, &out, io.Discard)
	if !errors.Is(err, loadtest.ErrBudget) {
		t.Fatalf("an impossible budget: %v, want ErrBudget\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "budget missed: join p99_ms") {
		t.Errorf("the summary does not say what was missed:\n%s", out.String())
	}
}

// TestLoadtestFlags checks the command's flags without a server: -h prints them, help lists the command, the token
// is read through run's getenv (and never printed as a default), and bad input fails before anything is sent.
func TestLoadtestFlags(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		return map[string]string{"ONSALE_ADMIN_TOKEN": "tok-secret", "ONSALE_LOADTEST_BASE": "http://lt.example:9"}[k]
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"onsale", "loadtest", "-h"}, env, &out, &errOut); err != nil {
		t.Errorf("-h: %v", err)
	}
	for _, want := range []string{"onsale loadtest -base URL", "-budget", "-fans", "-json", "-html", "-door", "-door-rate", "ONSALE_ADMIN_TOKEN", "http://lt.example:9"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "tok-secret") {
		t.Error("-h prints the organizer token")
	}
	out.Reset()
	if err := run(context.Background(), []string{"onsale", "help"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "onsale loadtest") {
		t.Errorf("help does not list loadtest: %v\n%s", err, out.String())
	}
	none := func(string) string { return "" }
	for _, c := range []struct {
		args   []string
		getenv func(string) string
		want   error
	}{
		{[]string{"-base", "http://127.0.0.1:1"}, none, loadtest.ErrConfig}, // no token anywhere
		{[]string{"-admin", "x", "-base", "ftp://host"}, none, loadtest.ErrConfig},
		{[]string{"-fans", "-3"}, env, loadtest.ErrConfig},
		{[]string{"-arrival", "tsunami"}, env, loadtest.ErrConfig},
		{[]string{"-door", "-door-rate", "-5"}, env, loadtest.ErrConfig},
		{[]string{"-door-twice", "1.5"}, env, loadtest.ErrConfig},
		{[]string{"-budget", filepath.Join(t.TempDir(), "missing.json")}, env, nil},
		{[]string{"stray"}, env, nil},
		{[]string{"-no-such-flag"}, env, nil},
	} {
		err := run(context.Background(), append([]string{"onsale", "loadtest"}, c.args...), c.getenv, io.Discard, io.Discard)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || errors.Is(err, loadtest.ErrBudget) {
			t.Errorf("%v: %v, want an error wrapping %v", c.args, err, c.want)
		}
	}
}

// TestLoadtestTail: at the service's default claim and idle settings, with short holds, a fifth of the fans walking
// away from their holds and refused fans leaving, the crowd drains (every fan is let in or told sold out) and no
// fan waits long beside buyable units while every shopper has gone quiet: slots of fans with nothing left to do
// turn over.
func TestLoadtestTail(t *testing.T) {
	t.Parallel()
	s := startServe(t, embeddedEnv())
	report := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	args := []string{"onsale", "loadtest", "-base", s.base, "-admin", s.admin, "-fans", "400", "-capacity", "60",
		"-arrival", "spike", "-window", "1s", "-hold-ttl", "5s", "-checkout-ttl", "10s", "-abandon-checkout", "0.2",
		"-workers", "32", "-max-conns", "64", "-duration", "240s", "-settle", "10s", "-sample", "250ms",
		"-seed", "7", "-json", report}
	if err := run(t.Context(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("loadtest: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Fans   map[string]int64 `json:"fans"`
		TailS  *float64         `json:"tail_s"`
		StallS float64          `json:"stall_s"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"pending", "queued"} {
		if rep.Fans[st] != 0 {
			t.Errorf("%d fans %s at the end: the crowd did not drain (%v)", rep.Fans[st], st, rep.Fans)
		}
	}
	if rep.TailS == nil {
		t.Errorf("no tail: the sale never came to its last units (%v)", rep.Fans)
	}
	if rep.StallS > 15 {
		t.Errorf("fans waited %.1f s beside buyable units while every shopper was quiet, want at most 15 s", rep.StallS)
	}
}
