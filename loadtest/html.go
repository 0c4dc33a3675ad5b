package loadtest

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":        func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"pct":       func(v float64) string { return strconv.FormatFloat(100*v, 'f', 3, 64) + " %" },
	"pct1":      func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + " %" },
	"f1":        func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"deref":     func(v *float64) float64 { return *v },
	"add":       func(a, b int) int { return a + b },
	"sub":       func(a, b int) int { return a - b },
	"plotRight": func(c chart) int { return c.PlotX + c.PlotW },
	"legendX":   func(c chart) int { return c.PlotX + c.PlotW + 16 },
	"gotList": func(m map[string]int64) string {
		var out []string
		for _, k := range sortedKeys(m) {
			out = append(out, k+" "+strconv.FormatInt(m[k], 10))
		}
		return strings.Join(out, ", ")
	},
}).Parse(reportTemplate))

// Chart geometry, in SVG user units.
const (
	chartW, chartH                       = 900, 260
	padLeft, padRight, padTop, padBottom = 64, 150, 12, 32
	plotW, plotH                         = chartW - padLeft - padRight, chartH - padTop - padBottom
)

// palette is colour-blind friendly (Okabe–Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}

type chart struct {
	ID, Title, Unit string
	W, H            int
	PlotX, PlotY    int
	PlotW, PlotH    int
	Series          []chartSeries
	XTicks, YTicks  []tick
}

type chartSeries struct {
	Name, Color, D string
	LegendY        int
}

type tick struct {
	Pos   float64
	Label string
}

// point is one value at one time; NaN marks a gap (no request of that endpoint in that window).
type point struct{ t, v float64 }

// buildChart scales the series into the plot: time on x from 0 to the last sample, values on y from 0 to a
// rounded maximum.
func buildChart(id, title, unit string, names []string, data [][]point) chart {
	c := chart{ID: id, Title: title, Unit: unit, W: chartW, H: chartH, PlotX: padLeft, PlotY: padTop, PlotW: plotW, PlotH: plotH}
	maxT, maxV := 1.0, 0.0
	for _, pts := range data {
		for _, p := range pts {
			maxT = math.Max(maxT, p.t)
			if !math.IsNaN(p.v) {
				maxV = math.Max(maxV, p.v)
			}
		}
	}
	maxV = niceCeil(maxV)
	x := func(t float64) float64 { return padLeft + t/maxT*plotW }
	y := func(v float64) float64 { return padTop + plotH - v/maxV*plotH }
	for i, pts := range data {
		var d strings.Builder
		pen := false
		for _, p := range pts {
			if math.IsNaN(p.v) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f,%.1f ", cmd, x(p.t), y(p.v))
			pen = true
		}
		if d.Len() == 0 {
			continue
		}
		c.Series = append(c.Series, chartSeries{Name: names[i], Color: palette[len(c.Series)%len(palette)],
			D: strings.TrimSpace(d.String()), LegendY: padTop + 14 + 18*len(c.Series)})
	}
	for i := 0; i <= 5; i++ {
		t := maxT * float64(i) / 5
		c.XTicks = append(c.XTicks, tick{Pos: x(t), Label: strconv.FormatFloat(t, 'f', 0, 64) + " s"})
		v := maxV * float64(i) / 4
		if i <= 4 {
			c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: compact(v)})
		}
	}
	return c
}

// niceCeil rounds a maximum up to 1, 2 or 5 times a power of ten, so the axis labels are round.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case v >= 10 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// charts draws the report's time series.
func (r Report) charts() []chart {
	var eps []Endpoint
	for _, e := range r.Endpoints {
		if e.Endpoint != EpAdminStats && e.Endpoint != EpAdminEvent {
			eps = append(eps, e.Endpoint)
		}
	}
	perEndpoint := func(get func(WindowStats) float64) ([]string, [][]point) {
		var names []string
		var data [][]point
		for _, ep := range eps {
			pts := make([]point, 0, len(r.Series))
			for _, s := range r.Series {
				w, ok := s.Endpoints[ep]
				v := math.NaN()
				if ok && w.Requests > 0 {
					v = get(w)
				}
				pts = append(pts, point{s.T, v})
			}
			names = append(names, string(ep))
			data = append(data, pts)
		}
		return names, data
	}
	stat := func(get func(EventStats) float64) []point {
		pts := make([]point, 0, len(r.Series))
		for _, s := range r.Series {
			v := math.NaN()
			if s.Stats != nil {
				v = get(*s.Stats)
			}
			pts = append(pts, point{s.T, v})
		}
		return pts
	}
	var out []chart
	n, d := perEndpoint(func(w WindowStats) float64 { return w.P95Ms })
	out = append(out, buildChart("latency-p95", "Latency p95 per endpoint", "ms", n, d))
	n, d = perEndpoint(func(w WindowStats) float64 { return w.P99Ms })
	out = append(out, buildChart("latency-p99", "Latency p99 per endpoint", "ms", n, d))
	period := 1.0
	if len(r.Series) > 1 {
		period = (r.Series[len(r.Series)-1].T - r.Series[0].T) / float64(len(r.Series)-1)
	}
	n, d = perEndpoint(func(w WindowStats) float64 { return float64(w.Requests) / period })
	total := make([]point, 0, len(r.Series))
	for _, s := range r.Series {
		total = append(total, point{s.T, s.RPS})
	}
	out = append(out, buildChart("rps", "Requests per second", "req/s", append([]string{"all"}, n...), append([][]point{total}, d...)))
	out = append(out, buildChart("queue", "Waiting room", "fans", []string{"queued", "admitted", "active"}, [][]point{
		stat(func(s EventStats) float64 { return float64(s.Queued) }),
		stat(func(s EventStats) float64 { return float64(s.Admitted) }),
		stat(func(s EventStats) float64 { return float64(s.Active) }),
	}))
	out = append(out, buildChart("sold", "Inventory", "units", []string{"sold", "held", "available", "capacity"}, [][]point{
		stat(func(s EventStats) float64 { return float64(s.Sold) }),
		stat(func(s EventStats) float64 { return float64(s.Held) }),
		stat(func(s EventStats) float64 { return float64(s.Available) }),
		stat(func(s EventStats) float64 { return float64(s.Capacity) }),
	}))
	return out
}

type htmlView struct {
	Report
	Charts      []chart
	FanRows     []kv
	ProblemRows []kv
	OutcomeRows []outcomeRow
	PathRows    []pathRow
}

// outcomeRow is one outcome of the orders: how many, their share, and the share the cards call for.
type outcomeRow struct {
	K               string
	V               int64
	Share, Expected float64
}

type pathRow struct {
	PayPathReport
	Outcomes string // "paid 590, hold-expired 2"
}

type kv struct {
	K string
	V int64
}

// WriteHTML writes the report as one self-contained page: tables and inline SVG charts, no script, nothing
// fetched from elsewhere.
func (r Report) WriteHTML(w io.Writer) error {
	v := htmlView{Report: r, Charts: r.charts()}
	for _, k := range fanStateNames {
		if n := r.Fans[k]; n > 0 {
			v.FanRows = append(v.FanRows, kv{k, n})
		}
	}
	for _, k := range sortedKeys(r.Problems) {
		v.ProblemRows = append(v.ProblemRows, kv{k, r.Problems[k]})
	}
	p := r.Payments
	for _, k := range Outcomes {
		if p.Outcomes[k] > 0 || p.Expected[k] > 0 {
			v.OutcomeRows = append(v.OutcomeRows, outcomeRow{k, p.Outcomes[k], p.Shares[k], p.Expected[k]})
		}
	}
	for _, pr := range p.Paths {
		if pr.Orders == 0 && pr.Share == 0 {
			continue
		}
		var outs []string
		for _, k := range Outcomes {
			if n := pr.Outcomes[k]; n > 0 {
				outs = append(outs, k+" "+strconv.FormatInt(n, 10))
			}
		}
		v.PathRows = append(v.PathRows, pathRow{pr, strings.Join(outs, ", ")})
	}
	if err := reportTmpl.Execute(w, v); err != nil {
		return fmt.Errorf("write report HTML: %w", err)
	}
	return nil
}
