package core_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/onsale/onsale/internal/testenv"
)

// TestOrderPageInBrowser: a fan pays for four tickets and opens the order page with the order's token on a phone;
// each QR code on the screen decodes to the ticket's code, which the door takes. A missing, forged or another
// order's token finds nothing, an unpaid order shows no tickets, and once refunded the tickets show as revoked
// with no code to scan.
func TestOrderPageInBrowser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	browser := startBrowser(t)
	const event = "order-page"
	e.createEvent(eventDef(event, 10, 4, 8))
	access := e.admit(event, "fan-order-page")
	hold := e.do("POST", "/v1/events/"+event+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 2}},
		"seats": []any{"A-1-1", "A-1-2"}}, bearer(access)...)
	if hold.status != 201 {
		t.Fatalf("hold: %v", hold)
	}
	co := e.do("POST", "/v1/holds/"+hold.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, bearer(access)...)
	order, otok := co.str("order_id"), co.str("order_token")
	if co.status != 202 || otok == "" {
		t.Fatalf("checkout: %v", co)
	}
	paid := e.waitOrder(order, otok)
	ts, _ := paid.body["tickets"].([]any)
	if paid.str("status") != "paid" || len(ts) != 4 {
		t.Fatalf("order: %v", paid)
	}
	page := "/o/" + order + "?t=" + otok

	r := e.do("GET", page, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		r.header.Get("Cache-Control") != "private, no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("GET the order page: %d %v", r.status, r.header)
	}
	if !strings.Contains(r.raw, `<meta name="viewport"`) || strings.Contains(r.raw, "<script") {
		t.Errorf("the page has no viewport or has a script")
	}
	gz := e.do("GET", page, nil, "Accept-Encoding", "gzip")
	if gz.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("no gzip answer: %v", gz.header)
	}
	t.Logf("the page of a 4-ticket order: %d bytes, %d gzipped", len(r.raw), len(gz.raw))
	if len(r.raw) > 100<<10 || len(gz.raw) > 32<<10 {
		t.Errorf("the page is %d bytes (%d gzipped), want under 100 KiB (32 KiB)", len(r.raw), len(gz.raw))
	}

	// Another order of the same fan, declined: no tickets, and its token opens only itself.
	other := e.do("POST", "/v1/events/"+event+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, bearer(access)...)
	oco := e.do("POST", "/v1/holds/"+other.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_chargeDeclined"}, bearer(access)...)
	if oco.status != 202 {
		t.Fatalf("second checkout: %v", oco)
	}
	if f := e.waitOrder(oco.str("order_id"), oco.str("order_token")); f.str("status") != "failed" {
		t.Fatalf("declined order: %v", f)
	}
	if f := e.do("GET", "/o/"+oco.str("order_id")+"?t="+oco.str("order_token"), nil); f.status != 200 ||
		!strings.Contains(f.raw, "Failed") || !strings.Contains(f.raw, "Your card was declined.") ||
		strings.Contains(f.raw, "<svg") || strings.Contains(f.raw, `class="ticket`) {
		t.Errorf("the failed order's page: %v", f)
	}
	for name, p := range map[string]string{"no token": "/o/" + order, "forged": "/o/" + order + "?t=" + otok + "x",
		"another order's": "/o/" + order + "?t=" + oco.str("order_token"), "the access token": "/o/" + order + "?t=" + access} {
		if r := e.do("GET", p, nil); r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %s, want a 404 problem", name, r.status, r.header.Get("Content-Type"))
		}
	}

	tb := openTab(t, browser, e.base, false)
	tb.step("open the order page", 20*time.Second, chromedp.Navigate(e.base+page), chromedp.WaitVisible(chromedp.CSS("main")))
	tb.screenshot("paid")
	text := tb.text()
	for i, x := range ts {
		tk, _ := x.(map[string]any)
		id, _ := tk["ticket_id"].(string)
		code, _ := tk["code"].(string)
		sec, _ := tk["section"].(string)
		if !strings.Contains(text, "Section "+sec) {
			t.Errorf("the page does not name section %s:\n%s", sec, text)
		}
		if seat, _ := tk["seat"].(string); seat != "" && !strings.Contains(text, seat) {
			t.Errorf("the page does not name seat %s", seat)
		}
		shot := tb.element("the QR code of "+id, `[id="t-`+id+`"] svg`)
		got := decodeQR(t, shot)
		if got != code {
			t.Errorf("ticket %s: the QR code reads %q, want the order's code %q", id, got, code)
			continue
		}
		ci := e.do("POST", "/v1/events/"+event+"/checkin", map[string]any{"code": got, "nonce": "order-page-" + strconv.Itoa(i)},
			e.adminAuth()...)
		if ci.str("result") != "ok" {
			t.Errorf("the door answers %v for ticket %s", ci, id)
		}
	}
	if !strings.Contains(text, "Paid") {
		t.Errorf("the page does not say paid:\n%s", text)
	}
	tb.step("reload", 20*time.Second, chromedp.Navigate(e.base+page), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := strings.Count(tb.text(), "Checked in"); n != 4 {
		t.Errorf("%d tickets say checked in, want 4:\n%s", n, tb.text())
	}

	if rf := e.do("POST", "/v1/admin/orders/"+order+"/refund", nil, e.adminAuth()...); rf.status != 202 {
		t.Fatalf("refund: %v", rf)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.do("GET", "/v1/orders/"+order, nil, bearer(otok)...).str("status") != "refunded" {
		if time.Now().After(deadline) {
			t.Fatal("the order was not refunded in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.step("reload after the refund", 20*time.Second, chromedp.Navigate(e.base+page), chromedp.WaitVisible(chromedp.CSS("main")))
	tb.screenshot("refunded")
	text = tb.text()
	if !strings.Contains(text, "Refunded") || strings.Count(text, "Revoked") < 4 || !strings.Contains(text, "The organizer refunded this order.") {
		t.Errorf("the refunded order's page:\n%s", text)
	}
	if n := tb.eval(`String(document.querySelectorAll("svg").length)`); n != "0" {
		t.Errorf("the refunded order's page shows %s QR codes", n)
	}
	tb.check()
}

// element is a screenshot of the element sel.
func (tb *tab) element(what, sel string) []byte {
	tb.t.Helper()
	var shot []byte
	tb.step(what, 20*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		shot, err = chromedp.Screenshot(chromedp.CSS(sel))(ctx, tg)
		return err
	}))
	return shot
}

// decodeQR reads the QR code in a PNG.
func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("decode the QR code of a %v screenshot: %v", img.Bounds().Size(), err)
	}
	return res.GetText()
}

// TestTicketsPDF: the order page links the tickets as a PDF, two to an A4 page; rendered (poppler's pdftoppm), each
// half page's QR code decodes to its ticket's code and the door lets it in. Revoked tickets are left out, and an
// order with none valid has no PDF; a wrong token finds nothing.
func TestTicketsPDF(t *testing.T) {
	t.Parallel()
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		msg := "no pdftoppm to render the PDF (apt-get install -y poppler-utils)"
		if testenv.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	e := setup(t)
	const event = "tickets-pdf"
	def := eventDef(event, 10, 4, 8)
	def["name"] = "Théâtre du Châtelet, première"
	e.createEvent(def)
	b := buyTickets(t, e, event, "fan-pdf", 3)
	page := e.do("GET", "/o/"+b.order+"?t="+b.token, nil)
	link := regexp.MustCompile(`<a id="pdf" href="([^"]+)"`).FindStringSubmatch(page.raw)
	if link == nil {
		t.Fatalf("the order page has no PDF link:\n%s", page.raw)
	}
	r := e.do("GET", html.UnescapeString(link[1]), nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") || r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("GET the PDF: %d %v", r.status, r.header)
	}
	t.Logf("3 tickets: %d bytes of PDF", len(r.raw))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.pdf"), []byte(r.raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-r", "200", "-png", filepath.Join(dir, "t.pdf"), filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "p-*.png"))
	slices.Sort(pages)
	if len(pages) != 2 {
		t.Fatalf("%d pages for 3 tickets, want 2", len(pages))
	}
	var got []string
	for i, p := range pages {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(artifactDir(t), fmt.Sprintf("%s-page-%d.png", t.Name(), i+1)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		h := img.Bounds().Dy() / 2
		for half := range 2 {
			sub := img.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(0, half*h, img.Bounds().Dx(), (half+1)*h))
			if len(got) == len(b.codes) {
				break
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, sub); err != nil {
				t.Fatal(err)
			}
			got = append(got, decodeQR(t, buf.Bytes()))
		}
	}
	if !slices.Equal(got, b.codes) {
		t.Fatalf("the PDF's codes are %q, want the order's %q", got, b.codes)
	}
	for i, code := range got {
		if ci := e.do("POST", "/v1/events/"+event+"/checkin", map[string]any{"code": code, "nonce": "pdf-" + strconv.Itoa(i)}, e.adminAuth()...); ci.str("result") != "ok" {
			t.Errorf("the door answers %v for the PDF's ticket %d", ci, i)
		}
	}
	if r := e.do("GET", "/o/"+b.order+"/tickets.pdf?t="+b.token+"x", nil); r.status != 404 {
		t.Errorf("a forged token: %d", r.status)
	}
	if rf := e.do("POST", "/v1/admin/orders/"+b.order+"/refund", nil, e.adminAuth()...); rf.status != 202 {
		t.Fatalf("refund: %v", rf)
	}
	if r := e.do("GET", "/o/"+b.order+"/tickets.pdf?t="+b.token, nil); r.status != 409 {
		t.Errorf("the PDF of a refunded order: %d, want 409", r.status)
	}
	if r := e.do("GET", "/o/"+b.order+"?t="+b.token, nil); strings.Contains(r.raw, `id="pdf"`) {
		t.Errorf("the refunded order's page still links a PDF")
	}
}
