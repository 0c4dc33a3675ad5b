package loadtest

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// display draws the run's progress: redrawn in place on a terminal, one plain line per period otherwise (a log
// file or a CI console).
type display struct {
	w        io.Writer
	tty      bool
	period   time.Duration
	lastLine time.Time
	lines    int // lines drawn last time, to move back over them
	event    string
	fans     int
	width    int
}

// isTerminal reports whether w is a terminal that understands cursor movement.
func isTerminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = 100
	}
	return true, width
}

func newDisplay(w io.Writer, cfg Config, event string) *display {
	tty, width := isTerminal(w)
	return &display{w: w, tty: tty, width: width, period: cfg.DisplayPeriod, event: event, fans: cfg.Fans}
}

// progressLines renders one sample as the lines of the display.
func progressLines(s Sample, event string, fans int, requests, errors int64, lagP99 float64, waiting int) []string {
	var b strings.Builder
	for _, k := range fanStateNames {
		if n := s.Fans[k]; n > 0 {
			fmt.Fprintf(&b, " %s %d", k, n)
		}
	}
	errPct := 0.0
	if requests > 0 {
		errPct = 100 * float64(errors) / float64(requests)
	}
	lines := []string{
		fmt.Sprintf("loadtest %s  t=%.0fs  fans %d", event, s.T, fans),
		"  fans:" + b.String(),
		fmt.Sprintf("  http: %.0f req/s  total %d  errors %d (%.2f%%)  scheduled %d  lag p99 %.1f ms", s.RPS, requests, errors, errPct, waiting, lagP99),
	}
	if st := s.Stats; st != nil {
		lines = append(lines, fmt.Sprintf("  event: queued %d  admitted %d  active %d  held %d  sold %d/%d  available %d",
			st.Queued, st.Admitted, st.Active, st.Held, st.Sold, st.Capacity, st.Available))
	} else {
		lines = append(lines, "  event: stats unavailable")
	}
	return lines
}

func (d *display) draw(s Sample, requests, errors int64, lagP99 float64, waiting int) {
	if d == nil || d.w == nil {
		return
	}
	lines := progressLines(s, d.event, d.fans, requests, errors, lagP99, waiting)
	if !d.tty {
		now := time.Now()
		if !d.lastLine.IsZero() && now.Sub(d.lastLine) < d.period {
			return
		}
		d.lastLine = now
		fmt.Fprintln(d.w, strings.Join(lines, " |"))
		return
	}
	var b strings.Builder
	if d.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.lines) // back to the first line drawn last time
	}
	for _, l := range lines {
		if len(l) > d.width {
			l = l[:d.width]
		}
		b.WriteString("\x1b[2K" + l + "\n")
	}
	d.lines = len(lines)
	fmt.Fprint(d.w, b.String())
}

// done leaves the display as it is, so the summary that follows starts on a fresh line.
func (d *display) done(Report) {
	if d == nil || d.w == nil || !d.tty {
		return
	}
	d.lines = 0
}
