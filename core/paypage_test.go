package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestFanPaysInBrowser drives the payment part of the fan's page in headless Chromium as a fan would, with the
// test provider: type a card number that needs 3-D Secure and pass it on the bank's page, fail it, type a
// declined card, and let the hold run out while on the bank's page. Each fan ends on the outcome the order has,
// with the reason in words, and the inventory agrees.
func TestFanPaysInBrowser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	browser := startBrowser(t)
	for _, c := range []struct {
		name, card  string
		checkoutTTL int
		bank        string // the button pressed on the 3-D Secure page, or "" when there is none
		waitOnBank  time.Duration
		want        string // what the page ends up saying
		sold        float64
	}{
		{name: "3ds-pass", card: "4000 0027 6000 3184", bank: "#ok", want: "Paid!", sold: 1},
		{name: "3ds-fail", card: "4000 0027 6000 3184", bank: "#no", want: "Your bank could not confirm the payment"},
		{name: "declined", card: "4000 0000 0000 0002", want: "Your card was declined"},
		{name: "hold-ends-at-the-bank", card: "4000 0000 0000 3220", checkoutTTL: 4, bank: "#ok", waitOnBank: 6 * time.Second,
			want: "Your hold ended before the payment was authorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := e.forTest(t)
			event := "pay-" + c.name
			def := eventDef(event, 10, 4, 4)
			if c.checkoutTTL > 0 {
				def["checkout_ttl_s"] = c.checkoutTTL
			}
			e.createEvent(def)
			tb := openTab(t, browser, e.base, false)
			tb.step("join and get in", 30*time.Second,
				chromedp.Navigate(e.base+"/e/"+event),
				chromedp.WaitVisible("#fan"),
				chromedp.SendKeys("#fan", "fan-"+c.name),
				chromedp.Click("#join"),
				chromedp.WaitVisible("#buy"),
				chromedp.Click("#buy"),
				chromedp.WaitVisible("#qty-GA"))
			tb.step("hold a ticket and go to payment", 30*time.Second,
				chromedp.SetValue("#qty-GA", "1"),
				chromedp.Click("#hold"),
				chromedp.WaitVisible("#checkout"),
				chromedp.Click("#checkout"),
				chromedp.WaitVisible("#card"))
			tb.until("the hold's countdown", 10*time.Second, `/your hold ends in/i.test(document.getElementById("timer").textContent)`)
			tb.step("type the card and pay", 20*time.Second,
				chromedp.SendKeys("#card", c.card),
				chromedp.SendKeys("#exp", "12/34"),
				chromedp.SendKeys("#cvc", "123"),
				chromedp.Click("#pay"))
			if c.bank != "" {
				tb.untilNavigated("the bank's 3-D Secure page", 20*time.Second, `location.pathname.startsWith("/pay/3ds/") &&
					document.readyState === "complete" && document.querySelector(`+jsString(c.bank)+`) !== null`)
				if got := tb.evalNavigated(`document.querySelector("main").innerText`); !strings.Contains(got, "45.00 EUR") {
					t.Errorf("the 3-D Secure page does not show the amount:\n%s", got)
				}
				tb.screenshot("3ds")
				if c.waitOnBank > 0 {
					time.Sleep(c.waitOnBank) // the fan dawdles on the bank's page until the hold ends
				}
				tb.clickNavigated("answer the bank", c.bank)
			}
			if c.bank != "" {
				tb.untilNavigated("back on the fan's page", 20*time.Second, `location.pathname.startsWith("/e/") &&
					document.readyState === "complete"`)
			}
			tb.until("the outcome", 45*time.Second, `document.getElementById("order-status").textContent.includes(`+jsString(c.want)+`)`)
			tb.screenshot("outcome")
			if c.sold == 0 {
				if got := tb.eval(`String(document.getElementById("again").hidden)`); got != "false" {
					t.Errorf("a failed payment offers no way to choose tickets again")
				}
			}
			st := e.do("GET", "/v1/admin/events/"+event+"/stats", nil, e.adminAuth()...)
			if st.body["sold"] != c.sold || st.body["held"] != float64(0) {
				t.Errorf("stats %v, want sold %v and nothing held", st.body, c.sold)
			}
			// Past the deadline the saga may cancel the payment before the fan answers the bank, whose page
			// then hears 409 and goes back: either way nothing is charged.
			tb.check("409 from "+e.base+"/v1/test-payments/", "409 (Conflict) "+e.base+"/v1/test-payments/")
		})
	}
}

// untilNavigated waits for a condition that holds once the tab has gone to another page: evaluations that the
// navigation interrupts are tried again.
func (tb *tab) untilNavigated(what string, d time.Duration, expr string) {
	tb.t.Helper()
	began, deadline := time.Now(), time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			tb.t.Logf("%s: %v", what, time.Since(began).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: not within %s (last error %v)\nthe page shows:\n%s", what, d, err, tb.text())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// evalNavigated evaluates expr in a tab that went to another page by itself, where chromedp's node queries
// still look at the page before.
func (tb *tab) evalNavigated(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// clickNavigated clicks the middle of the element sel with the mouse, in a tab that went to another page by itself.
func (tb *tab) clickNavigated(what, sel string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector(`+jsString(sel)+
		`).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`))
	if err == nil && len(xy) == 2 {
		_, err = chromedp.Run(ctx, chromedp.MouseClickXY(xy[0], xy[1]))
	}
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// forTest is the env with t as the test its helpers fail.
func (e *env) forTest(t *testing.T) *env {
	c := new(env)
	*c = *e
	c.t = t
	return c
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
