package core_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// pageWatch records what a page does that a fan's browser must never see: requests to anything but the server,
// failed responses, console errors and uncaught exceptions.
type pageWatch struct {
	base     string
	mu       sync.Mutex
	requests []string
	problems []string
}

func (w *pageWatch) listen(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		w.requests = append(w.requests, ev.Request.Method+" "+u)
		if !strings.HasPrefix(u, w.base+"/") {
			w.problems = append(w.problems, "request to "+u)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.problems = append(w.problems, fmt.Sprintf("%d from %s", ev.Response.Status, ev.Response.URL))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		w.problems = append(w.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			w.problems = append(w.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			w.problems = append(w.problems, "browser log: "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	}
}

func (w *pageWatch) snapshot() (requests, problems []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.requests...), append([]string(nil), w.problems...)
}

// artifactDir is where the screenshots go: $ONSALE_ARTIFACTS when set, so CI keeps them, else the test's own
// temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ONSALE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	return dir
}

// TestFanPageInBrowser drives the waiting-room page in headless Chromium on a phone-sized screen, the way a fan
// does: join behind three other fans while admission is paused, watch the place, the people ahead and the
// progress bar, get admitted when admission resumes, hold a general-admission ticket and pay with the test card.
// The page must reach nothing but the server and log no error on the way. It does so twice: with the status
// stream, and in a browser without EventSource, where the page falls back to polling. A third fan leaves the queue
// from the page. The three share one browser, each in a tab with storage of its own.
func TestFanPageInBrowser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	browser := startBrowser(t)
	for _, polling := range []bool{false, true} {
		name := map[bool]string{false: "stream", true: "polling"}[polling]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fanJourney(t, e, browser, "page-"+name, polling)
		})
	}
	t.Run("leave", func(t *testing.T) {
		t.Parallel()
		fanLeaves(t, e, browser, "page-leave")
	})
}

// fanLeaves joins event in the page and leaves the queue: the place is given up on the server, the page forgets
// it, and a reload offers to join again with the name kept.
func fanLeaves(t *testing.T, shared *env, browser context.Context, event string) {
	e := new(env)
	*e = *shared
	e.t = t
	slowEvent(t, e, event)
	queued := func() any {
		r := e.do("GET", "/v1/admin/events/"+event+"/stats", nil, e.adminAuth()...)
		if r.status != 200 {
			t.Fatalf("stats: %v", r)
		}
		return r.body["queued"]
	}
	tb := openTab(t, browser, e.base, false)
	tb.step("join", 30*time.Second,
		chromedp.Navigate(e.base+"/e/"+event),
		chromedp.WaitVisible("#fan"),
		chromedp.SendKeys("#fan", "leaving-fan"),
		chromedp.Click("#join"))
	tb.until("the waiting state", 20*time.Second, `document.getElementById("state").textContent === "waiting" &&
		document.getElementById("position").textContent === "1"`)
	if q := queued(); q != float64(1) {
		t.Errorf("queued %v with the fan in the queue, want 1", q)
	}
	tb.step("leave", 20*time.Second, chromedp.Click("#leave"), chromedp.WaitVisible("#join"))
	tb.until("the page to say so", 10*time.Second, `document.getElementById("error").textContent === "You left the queue."`)
	waitFor(t, "the place to be given up", func() bool { return queued() == float64(0) })
	tb.step("reload", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible("#join"))
	if got := tb.eval(`document.getElementById("fan").value + " " + localStorage.getItem("onsale:` + event + `:queue")`); got != "leaving-fan null" {
		t.Errorf("after leaving and a reload, the name and the stored queue token are %q, want leaving-fan null", got)
	}
	if got := tb.eval(`String(document.getElementById("queue-view").hidden)`); got != "true" {
		t.Errorf("after leaving and a reload, the queue view hidden is %s", got)
	}
	requests := tb.check()
	if !slices.Contains(requests, "DELETE "+e.base+"/v1/events/"+event+"/queue") {
		t.Errorf("the page never told the server the fan left; requests: %q", requests)
	}
}

// slowEvent creates event with 50 GA places and 10 seats, admission slow and paused; the returned func changes
// admission.
func slowEvent(t *testing.T, e *env, event string) func(body map[string]any) {
	t.Helper()
	def := eventDef(event, 50, 10, 4)
	wave := def["waves"].([]any)[0].(map[string]any)
	// Slow at first: nobody could be admitted in the 10 s before the pause below lands. The estimate a waiting fan
	// gets from this rate (40 s for four places) sets the polls 2 s apart.
	wave["admit_per_min"] = 6
	wave["max_active"] = 100
	e.createEvent(def)
	admission := func(body map[string]any) {
		t.Helper()
		if r := e.do("PATCH", "/v1/admin/events/"+event+"/admission", body, e.adminAuth()...); r.status != 200 {
			t.Fatalf("admission %v: %v", body, r)
		}
	}
	admission(map[string]any{"paused": true})
	return admission
}

// fanJourney is one fan's way through the page for event, which it creates, in a tab of its own with its own
// storage; polling takes EventSource away.
func fanJourney(t *testing.T, shared *env, browser context.Context, event string, polling bool) {
	e := new(env)
	*e = *shared
	e.t = t // the helpers fail this test, not the parent
	admission := slowEvent(t, e, event)

	// Three fans join ahead through the API; once the queue is drawn they wait at places 1 to 3.
	var ahead []string
	for i := range 3 {
		r := e.do("POST", "/v1/events/"+event+"/queue", map[string]any{"fan": fmt.Sprintf("ahead-%d", i)})
		if r.status != 201 {
			t.Fatalf("join ahead-%d: %v", i, r)
		}
		ahead = append(ahead, r.str("queue_token"))
	}
	waitFor(t, "the fans ahead to wait at places 1 to 3", func() bool {
		for i, tok := range ahead {
			r := e.do("GET", "/v1/events/"+event+"/queue", nil, "Queue-Token", tok)
			if r.str("state") != "waiting" || r.body["position"] != float64(i+1) {
				return false
			}
		}
		return true
	})

	tb := openTab(t, browser, e.base, polling)
	step, until, eval, screenshot := tb.step, tb.until, tb.eval, tb.screenshot

	step("open the page", 30*time.Second,
		chromedp.Navigate(e.base+"/e/"+event),
		chromedp.WaitVisible("#fan"))
	if w := eval(`String(window.innerWidth)`); w != "390" {
		t.Errorf("the page is laid out %s px wide on a 390 px phone (viewport meta?)", w)
	}
	// Every number the page ever shows as people ahead, to check that it never goes up.
	step("watch the people ahead", 10*time.Second, chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.getElementById("ahead");
		window.aheadShown = [];
		new MutationObserver(() => window.aheadShown.push(el.textContent))
			.observe(el, {childList: true, characterData: true, subtree: true});
	})()`))
	step("join as a fan", 20*time.Second,
		chromedp.SendKeys("#fan", "browser-fan"),
		chromedp.Click("#join"),
		chromedp.WaitVisible("#queue-view"))

	// Waiting behind three: place 4, three ahead, an estimate, and the bar at its minimum (it shows from the start).
	until("the waiting state", 20*time.Second, `(() => {
		const $ = id => document.getElementById(id), bar = $("progress");
		return $("state").textContent === "waiting" && $("ahead").textContent === "3" &&
			bar.style.width === "2%" && bar.getBoundingClientRect().width > 0;
	})()`)
	// The units left: 50 GA places and 10 seats, none sold.
	until("the tickets left", 20*time.Second, `document.getElementById("left").textContent === "60 tickets left."`)
	if got := eval(`document.getElementById("position").textContent`); got != "4" {
		t.Errorf("position %q, want 4", got)
	}
	if got := eval(`document.getElementById("wait").textContent`); !regexp.MustCompile(`^\d+(\.\d)? (s|min|h)$`).MatchString(got) {
		t.Errorf("estimated wait %q, want a duration", got)
	}
	if got := eval(`String(document.getElementById("buy").hidden) + " " + String(document.getElementById("leave").hidden)`); got != "true false" {
		t.Errorf("while waiting, buy hidden and leave hidden are %q, want true false", got)
	}
	if got := eval(`String(document.documentElement.scrollWidth)`); got != "390" {
		t.Errorf("the page is %s px wide on a 390 px phone: it scrolls sideways", got)
	}
	screenshot("waiting")

	// Admission resumes at one fan a second: the bar moves while the fan still waits, then the way to
	// the tickets opens.
	admission(map[string]any{"paused": false, "admit_per_min": 60})
	if !polling { // a poll may come only after the fans ahead are all in; the stream shows each step
		until("the progress bar to move while waiting", 30*time.Second, `(() => {
			const $ = id => document.getElementById(id);
			return $("state").textContent === "waiting" && parseFloat($("progress").style.width) > 2 &&
				Number($("ahead").textContent) < 3;
		})()`)
	}
	step("the fan to be admitted", 30*time.Second, chromedp.WaitVisible("#buy"))
	if got := eval(`["state","wait"].map(id => document.getElementById(id).textContent).join(" ") + " " +
		document.getElementById("progress").style.width`); got != "admitted now 100%" {
		t.Errorf("admitted page shows %q, want admitted now 100%%", got)
	}

	var shown []string
	step("read the people ahead shown", 10*time.Second, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var err error
		shown, err = chromedp.Evaluate[[]string](`window.aheadShown`)(ctx, tg)
		return chromedp.Void{}, err
	})
	last := -1
	for _, v := range shown {
		n, err := strconv.Atoi(v)
		if err != nil {
			continue // "–" when nothing is known or the fan is in
		}
		if last >= 0 && n > last || last < 0 && n != 3 {
			t.Errorf("people ahead shown in turn: %q; it must start at 3 and never go up", shown)
			break
		}
		last = n
	}

	step("go to the tickets", 30*time.Second,
		chromedp.Click("#buy"),
		chromedp.WaitVisible("#qty-GA"))
	step("hold one GA ticket", 30*time.Second,
		chromedp.SetValue("#qty-GA", "1"),
		chromedp.Click("#hold"),
		chromedp.WaitVisible("#checkout"))
	if got := eval(`document.getElementById("hold-summary").textContent`); !strings.HasPrefix(got, "1 × GA") ||
		!strings.Contains(got, "45") {
		t.Errorf("hold summary %q, want 1 × GA at 45 EUR", got)
	}
	step("continue to payment", 30*time.Second,
		chromedp.Click("#checkout"),
		chromedp.WaitVisible("#card"))
	step("type the Visa test card and pay", 20*time.Second,
		chromedp.SendKeys("#card", "4242 4242 4242 4242"),
		chromedp.SendKeys("#exp", "12/34"),
		chromedp.SendKeys("#cvc", "123"),
		chromedp.Click("#pay"))
	until("the order to be paid", 45*time.Second, `/paid/i.test(document.getElementById("order-status").textContent)`)
	if got := eval(`document.getElementById("error").textContent`); got != "" {
		t.Errorf("the page shows the error %q", got)
	}
	screenshot("paid")

	st := e.do("GET", "/v1/admin/events/"+event+"/stats", nil, e.adminAuth()...)
	if st.status != 200 || st.body["sold"] != float64(1) || st.body["held"] != float64(0) {
		t.Errorf("stats after the page's purchase: %v, want sold 1 and nothing held", st)
	}
	if rev, _ := st.body["revenue"].(map[string]any); rev["amount"] != float64(4500) {
		t.Errorf("revenue %v, want 4500", st.body["revenue"])
	}

	requests := tb.check()
	var streams, polls int
	for _, r := range requests {
		switch {
		case strings.HasPrefix(r, "GET "+e.base+"/v1/events/"+event+"/queue/stream?"):
			streams++
		case r == "GET "+e.base+"/v1/events/"+event+"/queue":
			polls++
		}
	}
	if !polling && (streams != 1 || polls != 0) {
		t.Errorf("the page opened the status stream %d times and polled %d times, want one stream and no poll",
			streams, polls)
	}
	if polling && (streams != 0 || polls < 2) {
		t.Errorf("without EventSource the page opened the stream %d times and polled %d times, want polls only",
			streams, polls)
	}
	t.Logf("%d requests, %d polls, %d streams", len(requests), polls, streams)
}

// startBrowser starts headless Chromium for the test, with its whole life bounded (each step of a fan has a
// tighter deadline of its own); its tabs come from openTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	browser, _ := startBrowserIn(t, t.TempDir())
	return browser
}

// startBrowserIn starts headless Chromium with its profile in dir and the extra flags; stop ends it and waits for
// it to exit, so another browser may open the same profile (it also ends with the test).
func startBrowserIn(t *testing.T, dir string, flags ...chromedp.ExecAllocatorOption) (browser context.Context, stop func()) {
	t.Helper()
	path := chromium(t)
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(dir)}, flags...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBudget := context.WithTimeout(actx, 3*time.Minute)
	t.Cleanup(cancelBudget)
	browser, cancelBrowser := chromedp.NewContext(bctx)
	t.Cleanup(cancelBrowser)
	began := time.Now()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("start chromium: %v", time.Since(began).Round(time.Millisecond))
	return browser, func() {
		if err := chromedp.Cancel(browser); err != nil { // closes it gracefully, so its profile is written out
			t.Errorf("close chromium: %v", err)
		}
		cancelBudget()
		cancelAlloc()
	}
}

// tab is a browser tab of its own (own storage) that a test drives step by step; every step has a deadline.
type tab struct {
	t     *testing.T
	ctx   context.Context
	watch *pageWatch
	dir   string
}

// openTab opens a tab in browser on a phone-sized screen; noStream takes EventSource away from its pages.
func openTab(t *testing.T, browser context.Context, base string, noStream bool) *tab {
	t.Helper()
	return openTabWith(t, browser, base, noStream, chromedp.WithNewBrowserContext())
}

// openTabWith is openTab with the tab's options: without WithNewBrowserContext, the tab keeps its storage in the
// browser's profile.
func openTabWith(t *testing.T, browser context.Context, base string, noStream bool, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	watch := &pageWatch{base: base}
	ctx, cancel := chromedp.NewContext(browser, append(opts, chromedp.WithListener(watch.listen))...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, watch: watch, dir: artifactDir(t)}
	// A phone: 390×844 CSS pixels at twice the density, touch, portrait.
	tb.step("emulate a phone", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2),
		chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	if noStream {
		tb.step("remove EventSource", 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.EventSource;"})
			return err
		}))
	}
	return tb
}

// text is what the fan sees, for failure messages.
func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
	if err != nil {
		return "(page unreadable: " + err.Error() + ")"
	}
	return s
}

func (tb *tab) step(what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d)
	defer cancel()
	began := time.Now()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, tb.text())
	}
	tb.t.Logf("%s: %v", what, time.Since(began).Round(time.Millisecond))
}

// until waits for a condition of the page, checked in the page every 50 ms.
func (tb *tab) until(what string, d time.Duration, expr string) {
	tb.t.Helper()
	tb.step(what, d, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(0))(ctx, tg)
		return chromedp.Void{}, err
	})
}

func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(tb.dir, strings.ReplaceAll(tb.t.Name(), "/", "-")+"-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot of the %s state: %s (%d bytes)", name, p, len(png))
}

// check reports what the page must never do, but for the problems allowed names, and returns its requests
// ("METHOD URL").
func (tb *tab) check(allowed ...string) []string {
	tb.t.Helper()
	requests, problems := tb.watch.snapshot()
	for _, p := range problems {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.Contains(p, a) }) {
			tb.t.Errorf("page: %s", p)
		}
	}
	return requests
}

// TestFanPageIsSmall: the waiting-room page is one small self-contained file, so a crowd of phones loads it fast
// at the opening and it depends on no third party.
func TestFanPageIsSmall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do("GET", "/e/any-event", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /e/any-event: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if n := len(r.raw); n >= 20<<10 {
		t.Errorf("the page is %d bytes, want under 20 KiB", n)
	}
	gz := e.do("GET", "/e/any-event", nil, "Accept-Encoding", "gzip")
	if gz.header.Get("Content-Encoding") != "gzip" || len(gz.raw) >= 8<<10 || !strings.Contains(gz.header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("gzip answer: %d bytes, Content-Encoding %q, Vary %q; want under 8 KiB, gzip, Vary: Accept-Encoding",
			len(gz.raw), gz.header.Get("Content-Encoding"), gz.header.Get("Vary"))
	}
	// Stripe.js is the one exception, loaded only when the order's provider is Stripe: Stripe requires it to be
	// loaded from its own host (PCI DSS), so it cannot be vendored.
	external := regexp.MustCompile(`(?i)<script[^>]*\ssrc\s*=|@import|url\(|\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}|<iframe|<img`)
	for _, m := range external.FindAllString(r.raw, -1) {
		if m != "https://js.stripe.com" {
			t.Errorf("the page refers to something outside itself: %q", m)
		}
	}
	// A link may only be inline: the icon is "data:,", so no phone asks for a /favicon.ico that is not there.
	for _, m := range regexp.MustCompile(`(?i)<link[^>]*\shref\s*=\s*["']?([^"'\s>]*)`).FindAllStringSubmatch(r.raw, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			t.Errorf("the page links to %q", m[1])
		}
	}
	if !strings.Contains(r.raw, `<link rel="icon" href="data:,">`) {
		t.Error("the page has no inline icon: every phone would ask the server for /favicon.ico")
	}
	// The elements a fan uses are there even before the script runs.
	for _, id := range []string{"fan", "join", "leave", "state", "position", "ahead", "wait", "progress", "buy",
		"hold", "checkout", "order-status", "card", "exp", "cvc", "pay", "timer", "auth"} {
		if !strings.Contains(r.raw, `id="`+id+`"`) {
			t.Errorf("the page has no #%s", id)
		}
	}
	// Every field has its label.
	for _, id := range []string{"fan", "code", "card", "exp", "cvc"} {
		if !strings.Contains(r.raw, `<label for="`+id+`">`) {
			t.Errorf("#%s has no label", id)
		}
	}
}
