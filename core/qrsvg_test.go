package core

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/onsale/onsale/tickets"
)

// TestQRSVGDecodes: a real ticket code drawn by qrSVG, rasterized as a browser would, decodes back to the code.
func TestQRSVGDecodes(t *testing.T) {
	k, err := tickets.NewKey("qr-event-with-a-long-name", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, err := tickets.Sign(k, tickets.Claims{TicketID: "tkt_0123456789abcdef0123", Event: k.Event, Section: "BALCONY",
		Seat: "BALCONY-12-34", IssuedAt: time.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("code of %d bytes", len(code))
	svg, err := qrSVG(code, `Ticket "1" <A>`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`role="img"`, `aria-label="Ticket &#34;1&#34; &lt;A&gt;"`, `shape-rendering="crispEdges"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %s", want)
		}
	}
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(svg)
	if m == nil || m[1] != m[2] {
		t.Fatalf("no square viewBox in %.200s", svg)
	}
	n, _ := strconv.Atoi(m[1])
	// Draw each run as the path says, 4 pixels per module.
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(svg, -1)
	if len(runs) == 0 {
		t.Fatal("no runs in the SVG")
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		if r[3] != r[4] || x < qrQuiet || y < qrQuiet || x+w > n-qrQuiet || y >= n-qrQuiet {
			t.Fatalf("run %s is not closed or lies in the quiet zone", r[0])
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	t.Logf("%d modules a side, %d bytes of SVG", n, len(svg))
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if res.GetText() != code {
		t.Errorf("decoded %q, want %q", res.GetText(), code)
	}
}
