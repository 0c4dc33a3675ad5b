package loadtest

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestPlainProgressIsOneLinePerPeriod(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	d := newDisplay(&b, Config{Fans: 10, DisplayPeriod: time.Hour}, "ev")
	if d.tty {
		t.Fatal("a strings.Builder taken for a terminal")
	}
	s := Sample{T: 3, RPS: 120, Fans: map[string]int64{"queued": 4, "paid": 6}, Stats: &EventStats{Sold: 9, Capacity: 10}}
	d.draw(s, 100, 1, 2.5, 4)
	d.draw(s, 200, 1, 2.5, 4) // within the period: not drawn
	out := b.String()
	if strings.Count(out, "\n") != 1 || strings.Contains(out, "\x1b[") {
		t.Fatalf("plain output %q", out)
	}
	for _, want := range []string{"loadtest ev", "queued 4", "paid 6", "120 req/s", "errors 1 (1.00%)", "sold 9/10"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
}

func TestTerminalProgressRedrawsInPlace(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	d := &display{w: &b, tty: true, width: 40, event: "ev", fans: 10}
	s := Sample{T: 1, Fans: map[string]int64{}}
	d.draw(s, 1, 0, 0, 0)
	d.draw(s, 2, 0, 0, 0)
	out := b.String()
	if !strings.Contains(out, "\x1b[4A") || strings.Count(out, "\x1b[2K") != 8 {
		t.Fatalf("terminal output does not move back over its 4 lines: %q", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := len(strings.TrimPrefix(line[strings.LastIndex(line, "\x1b[2K"):], "\x1b[2K")); n > 40 {
			t.Fatalf("line of %d characters on a 40-column terminal", n)
		}
	}
}

func TestFlagsFillTheConfig(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	cfg := Flags(fs)
	err := fs.Parse([]string{"-base", "http://h:1", "-admin", "a", "-fans", "5", "-arrival", "ramp", "-window", "3s",
		"-sections", "GA:general:5", "-decline", "0.5", "-budget", "b.json", "-json", "-", "-html", "r.html"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Base != "http://h:1" || cfg.Admin != "a" || cfg.Fans != 5 || cfg.Arrival != "ramp" || cfg.Window != 3*time.Second ||
		cfg.Decline != 0.5 || cfg.BudgetPath != "b.json" || cfg.JSONOut != "-" || cfg.HTMLOut != "r.html" {
		t.Fatalf("config %+v", *cfg)
	}
	if cfg.Workers != Defaults().Workers || cfg.AbandonQueue != Defaults().AbandonQueue {
		t.Fatalf("defaults not registered: %+v", *cfg)
	}
	if err := cfg.withDefaults().validate(); err != nil {
		t.Fatalf("flag defaults do not validate: %v", err)
	}
}

func TestParseSections(t *testing.T) {
	t.Parallel()
	s, err := ParseSections("GA:general:5000:4500, A:seated:2x3:9000")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Capacity != 5000 || s[1].units() != 6 || len(s[1].Rows) != 2 || s[1].Rows[1].Row != "2" || s[1].Price != 9000 {
		t.Fatalf("sections %+v", s)
	}
	for _, bad := range []string{"", "GA", "GA:general", "GA:general:0", "GA:general:x", "A:seated:3", "A:seated:0x3",
		"GA:standing:10", "GA:general:10:-1", "GA:general:1,GA:general:2", ":general:1"} {
		if _, err := ParseSections(bad); err == nil {
			t.Errorf("ParseSections(%q) accepted", bad)
		}
	}
}
