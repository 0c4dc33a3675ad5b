package core

import (
	"html"
	"strconv"
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the blank margin around a QR code, in modules, that scanners need to find it.
const qrQuiet = 4

// qrSVG encodes text as a QR code drawn as an inline SVG: one path of horizontal runs of dark modules, which
// prints sharp at any size. Level M survives a scratched phone screen and keeps a ticket code at version 11.
func qrSVG(text, label string) (string, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", err
	}
	n := strconv.Itoa(c.Size + 2*qrQuiet)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + " " + n +
		`" shape-rendering="crispEdges" role="img" aria-label="` + html.EscapeString(label) + `">` +
		`<path fill="#fff" d="M0 0h` + n + "v" + n + `H0z"/><path d="`)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; {
			if !c.Black(x, y) {
				x++
				continue
			}
			run := 1
			for c.Black(x+run, y) {
				run++
			}
			r := strconv.Itoa(run)
			b.WriteString("M" + strconv.Itoa(x+qrQuiet) + " " + strconv.Itoa(y+qrQuiet) + "h" + r + "v1h-" + r + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
