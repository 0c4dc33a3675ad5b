package core_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"rsc.io/qr"
)

// TestScannerPageInBrowser: door staff at two gates scan with phones whose cameras see a ticket's QR code (a
// fake camera fed a video made from the code). The north phone lets the ticket in online, refuses it shown again,
// a forged code and a refunded ticket; with the network cut it decides from its cached keys and revocation list,
// goes on after a reload (its service worker serves the page), queues the scans and uploads them once back online. The south phone, which fetched the keys earlier, is offline
// when the first ticket is shown to it again: it lets the holder in on its own verdict, and the upload reveals
// the conflict, on its screen and in the event's stats. The south phone's browser has no Ed25519 in WebCrypto, so
// it verifies with the vendored library.
func TestScannerPageInBrowser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const event = "scan-page"
	e.createEvent(eventDef(event, 10, 4, 8))
	first := buyTickets(t, e, event, "fan-scan-1", 3)
	refunded := buyTickets(t, e, event, "fan-scan-2", 1)
	if rf := e.do("POST", "/v1/admin/orders/"+refunded.order+"/refund", nil, e.adminAuth()...); rf.status != 202 {
		t.Fatalf("refund: %v", rf)
	}
	waitFor(t, "the refund", func() bool {
		return e.do("GET", "/v1/orders/"+refunded.order, nil, bearer(refunded.token)...).str("status") == "refunded"
	})
	stats := func() reply {
		r := e.do("GET", "/v1/admin/events/"+event+"/stats", nil, e.adminAuth()...)
		if r.status != 200 {
			t.Fatalf("stats: %v", r)
		}
		return r
	}
	// Loading resources while the network is cut is what the test does on purpose.
	offlineNoise := []string{"ERR_INTERNET_DISCONNECTED", "Failed to fetch"}

	// North: the camera sees the first ticket.
	north := startScanner(t, e.base, t.TempDir(), qrVideo(t, first.codes[0]), false)
	north.step("open the scanner", 30*time.Second, chromedp.Navigate(e.base+"/scan/"+event), chromedp.WaitVisible("#token"))
	north.step("sign in", 20*time.Second,
		chromedp.SendKeys("#token", e.admin), chromedp.SendKeys("#gate", "north"), chromedp.Click("#start"))
	north.verdict("the camera's ticket let in online", "ok", "Let in", "Checked online")
	if got := north.eval(`document.getElementById("verdict").innerText`); !strings.Contains(got, "Section GA") {
		t.Errorf("the verdict does not name the section:\n%s", got)
	}
	if st := stats(); st.body["checked_in"] != float64(1) || st.body["gates"].(map[string]any)["north"] != float64(1) {
		t.Fatalf("stats after the first scan: %v", st.body)
	}
	north.screenshot("let-in")
	north.step("camera off", 10*time.Second, chromedp.Click("#camera"))
	north.until("the page to be kept for offline use", 10*time.Second, `document.documentElement.dataset.offlineReady === "1"`)
	north.manual("the same ticket again", first.codes[0], "already-used", "Already used")
	north.manual("a forged code", forge(first.codes[1]), "invalid", "Not a valid ticket")
	north.manual("a refunded ticket", refunded.codes[0], "revoked", "Revoked")
	north.screenshot("refused")

	north.offline(true)
	north.manual("the second ticket, offline", first.codes[1], "ok", "offline")
	north.manual("the second ticket again, offline", first.codes[1], "already-used", "offline")
	north.manual("the refunded ticket, offline", refunded.codes[0], "revoked", "offline")
	north.manual("a forged code, offline", forge(first.codes[2]), "invalid", "offline")
	if got := north.eval(`document.getElementById("n-queued").textContent + " " + document.getElementById("net").textContent`); got != "4 Offline" {
		t.Errorf("offline, the page shows %q queued and network, want 4 Offline", got)
	}
	north.screenshot("offline")
	if st := stats(); st.body["checked_in"] != float64(1) {
		t.Fatalf("the ledger saw an offline scan: %v", st.body)
	}
	// The browser drops the page while offline: its service worker gives it back, with what it had cached.
	north.step("reload, offline", 20*time.Second, chromedp.Reload(), chromedp.WaitVisible("#start"))
	north.step("start again, offline", 20*time.Second, chromedp.Click("#start"), chromedp.WaitVisible("#code"))
	north.verdict("the camera's ticket, inside already, refused offline", "already-used", "Already used", "offline")
	north.step("camera off", 10*time.Second, chromedp.Click("#camera"))
	north.manual("the third ticket, offline after a reload", first.codes[2], "ok", "offline")
	if got := north.eval(`document.getElementById("n-queued").textContent`); got != "6" {
		t.Errorf("after the reload, %s scans queued, want 6", got)
	}
	north.offline(false)
	north.until("the queue to upload", 30*time.Second, `document.getElementById("n-queued").textContent === "0" &&
		document.getElementById("net").textContent === "Online"`)
	if st := stats(); st.body["checked_in"] != float64(3) || st.body["inside"] != float64(3) || st.body["conflicts"] != float64(0) {
		t.Fatalf("stats after the upload: %v", st.body)
	}
	if got := north.eval(`document.getElementById("n-conflicts").textContent`); got != "0" {
		t.Errorf("north reports %s conflicts, want 0", got)
	}
	requests := north.check(offlineNoise...)
	if slices.ContainsFunc(requests, func(r string) bool { return strings.Contains(r, "/assets/ed25519.js") }) {
		t.Errorf("north loaded the Ed25519 fallback though its browser has Ed25519")
	}
	north.stop()

	// South: keys fetched online once, with a camera that sees nothing readable.
	southDir := t.TempDir()
	south := startScanner(t, e.base, southDir, "", true)
	south.step("open the scanner", 30*time.Second, chromedp.Navigate(e.base+"/scan/"+event), chromedp.WaitVisible("#token"))
	south.step("sign in", 20*time.Second,
		chromedp.SendKeys("#token", e.admin), chromedp.SendKeys("#gate", "south"), chromedp.Click("#start"))
	south.until("the keys to be cached", 10*time.Second, `/^1 key/.test(document.getElementById("sync").textContent)`)
	south.stop()

	// Later, the same phone offline, and the first ticket (inside already, let in at north) in front of it.
	south = startScanner(t, e.base, southDir, qrVideo(t, first.codes[0]), true)
	south.step("open the scanner", 30*time.Second, chromedp.Navigate(e.base+"/scan/"+event), chromedp.WaitVisible("#start"))
	south.until("the fallbacks to load", 10*time.Second, `typeof jsQR === "function" && typeof nobleEd25519 === "object"`)
	south.offline(true)
	south.step("start, offline", 20*time.Second, chromedp.Click("#start"))
	south.verdict("the ticket let in offline", "ok", "Let in", "offline")
	if got := south.eval(`document.getElementById("n-queued").textContent`); got != "1" {
		t.Errorf("south queued %s scans, want 1", got)
	}
	south.offline(false)
	south.until("the conflict to show", 30*time.Second, `document.getElementById("n-queued").textContent === "0" &&
		document.getElementById("n-conflicts").textContent === "1"`)
	if got := south.eval(`document.getElementById("conflicts").innerText`); !strings.Contains(got, first.tickets[0]) || !strings.Contains(got, "Already used") {
		t.Errorf("the conflict reads %q, want the ticket %s already used", got, first.tickets[0])
	}
	south.screenshot("conflict")
	if st := stats(); st.body["conflicts"] != float64(1) || st.body["checked_in"] != float64(3) {
		t.Fatalf("stats after the conflict: %v", st.body)
	}
	requests = south.check(offlineNoise...)
	for _, want := range []string{"/assets/ed25519.js", "/assets/jsqr.js"} {
		if !slices.ContainsFunc(requests, func(r string) bool { return strings.HasSuffix(r, want) }) {
			t.Errorf("south never loaded %s; requests: %q", want, requests)
		}
	}
	south.stop()

	// The organizer's console shows the door: checked in of sold (the refunded ticket is for sale again), inside,
	// conflicts, gates, and the scanner's link.
	console := openTab(t, startBrowser(t), e.base, false)
	console.step("watch the event in the console", 30*time.Second, chromedp.Navigate(e.base+"/admin"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", e.admin), chromedp.SendKeys("#event", event), chromedp.Click("#watch"))
	console.until("the door's figures", 20*time.Second, `(() => { const t = document.getElementById("tiles").innerText;
		return /3 \/ 3\s*checked in/.test(t) && /3\s*inside now/.test(t) && /1\s*door conflicts/.test(t); })()`)
	if got := console.eval(`document.getElementById("gates").textContent + " | " + document.getElementById("scan-link").getAttribute("href")`); got != "First entries by gate: north 3 | /scan/"+event {
		t.Errorf("the console shows %q", got)
	}
	console.screenshot("console")
	console.check()
}

// boughtTickets are a paid order's tickets.
type boughtTickets struct {
	order, token   string
	tickets, codes []string
}

// buyTickets pays for n general-admission tickets of event as fan.
func buyTickets(t *testing.T, e *env, event, fan string, n int) boughtTickets {
	t.Helper()
	access := e.admit(event, fan)
	hold := e.do("POST", "/v1/events/"+event+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": n}}}, bearer(access)...)
	if hold.status != 201 {
		t.Fatalf("hold: %v", hold)
	}
	co := e.do("POST", "/v1/holds/"+hold.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, bearer(access)...)
	if co.status != 202 {
		t.Fatalf("checkout: %v", co)
	}
	b := boughtTickets{order: co.str("order_id"), token: co.str("order_token")}
	paid := e.waitOrder(b.order, b.token)
	ts, _ := paid.body["tickets"].([]any)
	if paid.str("status") != "paid" || len(ts) != n {
		t.Fatalf("order: %v", paid)
	}
	for _, x := range ts {
		tk := x.(map[string]any)
		b.tickets = append(b.tickets, tk["ticket_id"].(string))
		b.codes = append(b.codes, tk["code"].(string))
	}
	return b
}

// forge flips one character of a code's signature.
func forge(code string) string {
	b := []byte(code)
	i := len(b) - 10
	b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
	return string(b)
}

// qrVideo writes a Y4M video (what Chromium's fake camera plays, in a loop) of code as a QR code, black on white.
func qrVideo(t *testing.T, code string) string {
	t.Helper()
	c, err := qr.Encode(code, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 640, 480
	scale := (h - 40) / (c.Size + 8)
	side := scale * (c.Size + 8)
	x0, y0 := (w-side)/2, (h-side)/2
	luma := bytes.Repeat([]byte{235}, w*h)
	for y := range c.Size {
		for x := range c.Size {
			if !c.Black(x, y) {
				continue
			}
			for dy := range scale {
				row := (y0+(y+4)*scale+dy)*w + x0 + (x+4)*scale
				for dx := range scale {
					luma[row+dx] = 16
				}
			}
		}
	}
	var v bytes.Buffer
	fmt.Fprintf(&v, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	chroma := bytes.Repeat([]byte{128}, w*h/2)
	for range 2 {
		v.WriteString("FRAME\n")
		v.Write(luma)
		v.Write(chroma)
	}
	p := filepath.Join(t.TempDir(), "qr.y4m")
	if err := os.WriteFile(p, v.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanner is a phone at the door: a browser with a fake camera and one tab on the scanner page.
type scanner struct {
	*tab
	stop func()
}

// startScanner starts a browser whose camera plays video (Chromium's own test pattern when empty), with its
// profile in dir; noEd25519 takes Ed25519 away from its WebCrypto.
func startScanner(t *testing.T, base, dir, video string, noEd25519 bool) *scanner {
	t.Helper()
	flags := []chromedp.ExecAllocatorOption{chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required")}
	if video != "" {
		flags = append(flags, chromedp.Flag("use-file-for-fake-video-capture", video))
	}
	browser, stop := startBrowserIn(t, dir, flags...)
	s := &scanner{tab: openTabWith(t, browser, base, false), stop: stop} // storage in the profile, as on a phone
	if noEd25519 {
		s.step("remove Ed25519 from WebCrypto", 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
				const subtle = crypto.subtle, importKey = subtle.importKey.bind(subtle);
				subtle.importKey = (format, key, alg, ...rest) => (alg && (alg.name || alg) === "Ed25519") ?
					Promise.reject(new DOMException("Ed25519 is not supported", "NotSupportedError")) : importKey(format, key, alg, ...rest);
			})();`})
			return err
		}))
	}
	return s
}

// offline cuts the tab's network, or gives it back.
func (s *scanner) offline(cut bool) {
	s.t.Helper()
	s.step(fmt.Sprintf("network offline %v", cut), 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &cut,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: cut, DownloadThroughput: -1, UploadThroughput: -1}}})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: cut,
			DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
}

// verdict waits for the verdict result with title and how (part of its text) on the screen.
func (s *scanner) verdict(what, result, title, how string) {
	s.t.Helper()
	s.until(what, 20*time.Second, fmt.Sprintf(`(() => { const v = document.getElementById("verdict");
		return v.dataset.result === %q && v.innerText.includes(%q) && v.innerText.includes(%q); })()`, result, title, how))
}

// manual types code into the scanner and waits for its verdict.
func (s *scanner) manual(what, code, result, text string) {
	s.t.Helper()
	s.step(what+": type it", 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById("verdict").dataset.result = ""`),
		chromedp.SendKeys("#code", code), chromedp.Click(`#manual button`))
	s.verdict(what, result, text, text)
}

// TestScannerPageIsSmall: the scanner is one small file that loads nothing but the server's own vendored scripts,
// and every field has its label.
func TestScannerPageIsSmall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do("GET", "/scan/any-event", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /scan/any-event: %d %s", r.status, r.header.Get("Content-Type"))
	}
	gz := e.do("GET", "/scan/any-event", nil, "Accept-Encoding", "gzip")
	if len(r.raw) >= 24<<10 || len(gz.raw) >= 10<<10 {
		t.Errorf("the page is %d bytes, %d gzipped; want under 24 KiB and 10 KiB", len(r.raw), len(gz.raw))
	}
	for _, m := range regexp.MustCompile(`(?i)(?:src|href)\s*=\s*["']([^"']*)["']|script\("([^"]*)"\)`).FindAllStringSubmatch(r.raw, -1) {
		if u := m[1] + m[2]; u != "data:," && !strings.HasPrefix(u, "/assets/") {
			t.Errorf("the page loads %q", u)
		}
	}
	for _, id := range []string{"token", "gate", "code"} {
		if !strings.Contains(r.raw, `<label for="`+id+`">`) {
			t.Errorf("#%s has no label", id)
		}
	}
	for _, name := range []string{"jsqr.js", "ed25519.js"} {
		a := e.do("GET", "/assets/"+name, nil, "Accept-Encoding", "gzip")
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/javascript") ||
			a.header.Get("Content-Encoding") != "gzip" || !strings.Contains(a.header.Get("Cache-Control"), "max-age") {
			t.Errorf("GET /assets/%s: %d %v", name, a.status, a.header)
		}
		t.Logf("/assets/%s: %d bytes gzipped", name, len(a.raw))
	}
	sw := e.do("GET", "/assets/scan-sw.js", nil)
	if sw.status != 200 || sw.header.Get("Service-Worker-Allowed") != "/scan/" || sw.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /assets/scan-sw.js: %d %v", sw.status, sw.header)
	}
}
