package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleOrders drives the console in Chromium on a phone-sized screen: the organizer's events, an event's
// orders searched by fan, a refund confirmed in two steps, and the CSV export, all through the JSON API.
func TestConsoleOrders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("console-a", 20, 4, 4))
	e.createEvent(eventDef("console-b", 20, 4, 4))
	alice := buyTickets(t, e, "console-a", "alice", 1)
	buyTickets(t, e, "console-a", "bob", 2)

	c := openTab(t, startBrowser(t), e.base, false)
	c.step("sign in and list the events", 30*time.Second, chromedp.Navigate(e.base+"/admin"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", e.admin), chromedp.Click("#load-events"))
	c.until("both events listed", 20*time.Second, `(() => { const t = document.getElementById("my-events").innerText;
		return /console-a · on-sale/.test(t) && /console-b/.test(t); })()`)
	// Keyboard: focus the first event's Watch button and press Enter.
	c.step("watch console-a from the list", 20*time.Second,
		chromedp.Focus(`#my-events button[aria-label="Watch Test console-a"]`), chromedp.KeyEvent("\r"))
	c.until("its orders", 20*time.Second, `document.querySelectorAll("#orders tbody tr").length === 2`)
	c.step("search alice's orders", 20*time.Second, chromedp.SendKeys("#o-fan", "alice"), chromedp.Click("#o-search"))
	c.until("alice's order alone", 20*time.Second, `(() => { const rows = document.querySelectorAll("#orders tbody tr");
		return rows.length === 1 && rows[0].innerText.includes("`+alice.order+`") && rows[0].innerText.includes("paid"); })()`)
	refund := `#orders button[aria-label="Refund order ` + alice.order + `"]`
	c.step("ask for the refund", 10*time.Second, chromedp.Click(refund))
	if got := c.eval(`document.querySelector('` + refund + `').textContent`); got != "Confirm refund" {
		t.Fatalf("the first click shows %q, want a confirmation", got)
	}
	if r := e.do("GET", "/v1/orders/"+alice.order, nil, bearer(alice.token)...); r.str("status") != "paid" || r.str("refund_reason") != "" {
		t.Fatalf("one click refunded: %v", r)
	}
	c.step("confirm the refund", 10*time.Second, chromedp.Click(refund))
	c.until("the refund under way", 20*time.Second, `/Refund of .* under way/.test(document.getElementById("orders-msg").textContent)`)
	if r := e.waitOrder(alice.order, alice.token); r.str("status") != "refunded" {
		t.Errorf("alice's order after the console's refund: %v", r)
	}
	c.step("export the search as CSV", 20*time.Second, chromedp.Click("#o-csv"))
	c.until("the export saved", 20*time.Second, `document.getElementById("orders-msg").textContent === "Saved console-a-orders.csv"`)
	c.screenshot("orders")
	var exported bool
	for _, r := range c.check() {
		exported = exported || strings.HasPrefix(r, "GET "+e.base+"/v1/admin/events/console-a/orders.csv?fan=alice")
	}
	if !exported {
		t.Error("the console never asked for the CSV export of its search")
	}
}
