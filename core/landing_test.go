package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLandingPageInBrowser: a person opens the landing page on a phone, sees what is on sale and coming up (not
// what is cancelled), searches with a typo and no accent by typing and pressing Enter, and follows the result to
// the event's page, which names the event, its venue and its date. The landing page has no script, is small and answers 304 to its own ETag.
func TestLandingPageInBrowser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	show := time.Now().Add(40 * 24 * time.Hour).UTC().Truncate(time.Minute)
	for _, ev := range []struct{ id, name, venue, city string }{
		{"land-traviata", "La Traviata", "Théâtre du Châtelet", "Paris"},
		{"land-kraftwerk", "Kraftwerk", "Lanxess Arena", "Köln"},
		{"land-gone", "Cancelled night", "Salle Pleyel", "Paris"},
	} {
		def := eventDef(ev.id, 10, 4, 4)
		def["name"], def["venue"], def["city"], def["starts_at"] = ev.name, ev.venue, ev.city, show.Format(time.RFC3339)
		e.createEvent(def)
	}
	if r := e.do("POST", "/v1/admin/events/land-gone/cancel", nil, e.adminAuth()...); r.status != 202 {
		t.Fatalf("cancel: %v", r)
	}
	waitFor(t, "the cancellation", func() bool {
		return e.do("GET", "/v1/admin/events/land-gone", nil, e.adminAuth()...).str("status") == "cancelled"
	})
	waitFor(t, "the landing page to leave the cancelled event out", func() bool { // statuses are cached for 2 s
		return !strings.Contains(e.do("GET", "/", nil).raw, "Cancelled night")
	})

	r := e.do("GET", "/", nil)
	gz := e.do("GET", "/", nil, "Accept-Encoding", "gzip")
	if r.status != 200 || strings.Contains(r.raw, "<script") || len(r.raw) > 16<<10 || len(gz.raw) > 4<<10 ||
		!strings.Contains(r.header.Get("Cache-Control"), "max-age") || r.header.Get("ETag") == "" {
		t.Fatalf("GET /: %d, %d bytes (%d gzipped), %v", r.status, len(r.raw), len(gz.raw), r.header)
	}
	t.Logf("the landing page: %d bytes, %d gzipped", len(r.raw), len(gz.raw))
	if nm := e.do("GET", "/", nil, "If-None-Match", r.header.Get("ETag")); nm.status != 304 {
		t.Errorf("If-None-Match of its own ETag: %d", nm.status)
	}

	tb := openTab(t, startBrowser(t), e.base, false)
	tb.step("open the landing page", 20*time.Second, chromedp.Navigate(e.base+"/"), chromedp.WaitVisible("#q"))
	text := tb.text()
	if !strings.Contains(text, "La Traviata") || !strings.Contains(text, "Kraftwerk") || strings.Contains(text, "Cancelled night") {
		t.Errorf("the landing page lists:\n%s", text)
	}
	if !strings.Contains(text, "On sale") || !strings.Contains(text, "Théâtre du Châtelet, Paris") {
		t.Errorf("the listing has no status or venue:\n%s", text)
	}
	tb.screenshot("landing")
	tb.step("search with a typo", 20*time.Second, chromedp.SendKeys("#q", "chatelt\r"), chromedp.WaitVisible(`#events`))
	tb.untilNavigated("the results", 10*time.Second, `location.search === "?q=chatelt&city=" && !!document.querySelector("#events li a")`)
	first := tb.eval(`document.querySelector("#events li a").textContent + " " + document.querySelector("#events li a").getAttribute("href")`)
	if first != "La Traviata /e/land-traviata" {
		t.Errorf("the first result is %q", first)
	}
	if n := tb.eval(`String(document.querySelectorAll("#events li").length)`); n != "1" {
		t.Errorf("%s results for chatelt, want 1:\n%s", n, tb.text())
	}
	tb.screenshot("search")
	tb.clickNavigated("follow the result", "#events li a")
	tb.untilNavigated("the event's page", 20*time.Second, `!!document.getElementById("fan")`)
	if got := tb.eval(`location.pathname`); got != "/e/land-traviata" {
		t.Errorf("the result leads to %s", got)
	}
	tb.until("the event's page to name it", 10*time.Second, `document.getElementById("title").textContent === "La Traviata" &&
		document.getElementById("where").textContent.startsWith("Théâtre du Châtelet, Paris · ")`)
	tb.check()
}
