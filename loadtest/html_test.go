package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onsale/onsale/internal/testenv"
)

// reportWithSeries is a report with a minute of samples: latencies rising, a queue draining, an event selling out.
func reportWithSeries() Report {
	r := sampleReport()
	r.Event = "tour-paris"
	r.Base = "http://127.0.0.1:8080"
	r.Fans = FanOutcomes{"paid": 800, "sold-out": 150, "abandoned": 50}
	r.Problems = map[string]int64{"sold-out": 300, "unavailable": 4}
	r.QueueTime = Percentiles{Count: 1000, P50: 1200, P95: 9000, P99: 15000, Max: 20000}
	for i := range 60 {
		t := float64(i + 1)
		s := Sample{T: t, Requests: int64(1000 + 10*i), RPS: float64(1000 + 10*i), Endpoints: map[Endpoint]WindowStats{
			EpJoin: {Requests: 500, P50Ms: 2, P95Ms: 10 + t, P99Ms: 20 + 2*t, MaxMs: 50},
			EpHold: {Requests: 100, P50Ms: 3, P95Ms: 15 + math.Sin(t)*5, P99Ms: 40, MaxMs: 80},
		}, Stats: &EventStats{Queued: int64(10000 - 150*i), Admitted: int64(150 * i), Active: 100, Sold: min(20*i, 1000), Held: 30, Capacity: 1000, Available: max(0, 1000-20*i-30)}}
		if i == 30 {
			delete(s.Endpoints, EpHold) // a gap: no hold in that second
		}
		r.Series = append(r.Series, s)
	}
	return r
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := reportWithSeries().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, ext := range []string{"<script src", "<link", "http://cdn", "https://"} {
		if strings.Contains(page, ext) {
			t.Errorf("the page refers to something outside itself: %q", ext)
		}
	}
	if n := strings.Count(page, `<svg id=`); n != 5 {
		t.Errorf("%d charts, want 5", n)
	}
	if !regexp.MustCompile(`<path class="line" stroke="#[0-9A-F]{6}" d="M[0-9.]+,[0-9.]+ L`).MatchString(page) {
		t.Error("no drawn line in the page")
	}
	// The hold series has a gap: its path starts again with a move.
	if !regexp.MustCompile(`d="M[^"]* M[^"]*"><title>hold`).MatchString(page) {
		t.Error("the gap in the hold series is not a break in its line")
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	t.Parallel()
	r := reportWithSeries()
	r.Violations = r.Check(Budget{Overall: OverallBudget{MinRPS: 1e6}})
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Series) != 60 || back.Series[59].Stats.Sold != 1000 || len(back.Violations) != 1 || *back.SellOutS != 42 {
		t.Fatalf("round trip lost data: %d samples, violations %v", len(back.Series), back.Violations)
	}
}

// TestHTMLChartsDrawInChromium opens the report in headless Chromium and checks every chart drew its lines.
func TestHTMLChartsDrawInChromium(t *testing.T) {
	t.Parallel()
	bin := "/usr/bin/chromium"
	if p, err := exec.LookPath("chromium"); err == nil {
		bin = p
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "chromium is not installed (apt-get install -y chromium)"
		if testenv.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportWithSeries().WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "profile")))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	if _, err := chromedp.Run(bctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("open the report: %v", err)
	}
	type drawn struct {
		ID     string  `json:"id"`
		Paths  int     `json:"paths"`
		Empty  int     `json:"empty"`
		Length float64 `json:"length"`
		Width  float64 `json:"width"`
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]drawn](`[...document.querySelectorAll("svg.chart")].map(svg => {
		const paths = [...svg.querySelectorAll("path")];
		return {
			id: svg.id,
			paths: paths.length,
			empty: paths.filter(p => !(p.getAttribute("d") || "").trim()).length,
			length: paths.reduce((n, p) => n + p.getTotalLength(), 0),
			width: svg.getBoundingClientRect().width,
		};
	})`))
	if err != nil {
		t.Fatalf("read the charts: %v", err)
	}
	want := map[string]int{"latency-p95": 2, "latency-p99": 2, "rps": 3, "queue": 3, "sold": 4}
	if len(charts) != len(want) {
		t.Fatalf("charts %+v, want %d", charts, len(want))
	}
	for _, c := range charts {
		if c.Paths != want[c.ID] || c.Empty != 0 || c.Length <= 100 || c.Width < 500 {
			t.Errorf("chart %s: %+v, want %d drawn paths", c.ID, c, want[c.ID])
		}
	}
	if os.Getenv("ONSALE_LOADTEST_SCREENSHOT") != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(os.Getenv("ONSALE_LOADTEST_SCREENSHOT"), png, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
