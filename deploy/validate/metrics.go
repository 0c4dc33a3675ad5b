package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// Metrics is the project's shared list of metric names (the metric list the services export), with each
// one's type. Dashboards and rules may use only these, the Go runtime and process collectors' go_* and
// process_*, and the series Prometheus writes itself (PrometheusSeries).
var Metrics = map[string]dto.MetricType{
	"onsale_http_requests_total":               dto.MetricType_COUNTER,
	"onsale_http_request_duration_seconds":     dto.MetricType_HISTOGRAM,
	"onsale_http_inflight_requests":            dto.MetricType_GAUGE,
	"onsale_backend_up":                        dto.MetricType_GAUGE,
	"onsale_redis_pool_connections":            dto.MetricType_GAUGE,
	"onsale_redis_pool_timeouts_total":         dto.MetricType_COUNTER,
	"onsale_inventory_units":                   dto.MetricType_GAUGE,
	"onsale_inventory_audit_differences":       dto.MetricType_GAUGE,
	"onsale_inventory_expired_total":           dto.MetricType_COUNTER,
	"onsale_inventory_holds_total":             dto.MetricType_COUNTER,
	"onsale_inventory_hold_batch_size":         dto.MetricType_HISTOGRAM,
	"onsale_inventory_redis_roundtrip_seconds": dto.MetricType_HISTOGRAM,
	"onsale_waitroom_queued":                   dto.MetricType_GAUGE,
	"onsale_waitroom_active":                   dto.MetricType_GAUGE,
	"onsale_waitroom_paused":                   dto.MetricType_GAUGE,
	"onsale_waitroom_admitted_total":           dto.MetricType_COUNTER,
	"onsale_waitroom_admit_rate_per_min":       dto.MetricType_GAUGE,
	"onsale_waitroom_joins_total":              dto.MetricType_COUNTER,
	"onsale_waitroom_queue_wait_seconds":       dto.MetricType_HISTOGRAM,
	"onsale_settlement_orders_total":           dto.MetricType_COUNTER,
	"onsale_settlement_lag_seconds":            dto.MetricType_HISTOGRAM,
	"onsale_settlement_outbox_pending":         dto.MetricType_GAUGE,
	"onsale_settlement_dead_letters_total":     dto.MetricType_COUNTER,
	"onsale_settlement_payments_total":         dto.MetricType_COUNTER,
	"onsale_settlement_refunds_total":          dto.MetricType_COUNTER,
}

// PrometheusSeries are written by Prometheus itself, never exported by a process: `up` is what tells
// that a process is gone, which no exported metric can.
var PrometheusSeries = []string{"up"}

// Use is one metric name used by one query.
type Use struct {
	Where  string // dashboard panel or rule
	Metric string // the name as queried, e.g. onsale_settlement_lag_seconds_bucket
}

var promql = parser.NewParser(parser.Options{})

// QueryMetrics parses a PromQL expression and returns the metric names its selectors name.
func QueryMetrics(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				name = m.Value
			}
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	return names, nil
}

// family maps a queried name to the exported family and whether it must be a histogram
// (x_bucket, x_sum and x_count of histogram x).
func family(name string) (string, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if t, known := Metrics[base]; known && t == dto.MetricType_HISTOGRAM {
				return base, true
			}
		}
	}
	return name, false
}

// Known reports whether name may be used by a query: a listed metric (histogram series by their suffixes),
// a Go runtime or process collector metric, or a series Prometheus writes.
func Known(name string) bool {
	base, hist := family(name)
	if t, ok := Metrics[base]; ok {
		return hist || t != dto.MetricType_HISTOGRAM
	}
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || slices.Contains(PrometheusSeries, name)
}

// grafanaVars are Grafana's built-in interval variables; any other $var is a dashboard variable.
var (
	grafanaIntervals = regexp.MustCompile(`\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}`)
	grafanaVar       = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_:]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)
	labelValues      = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
)

// grafanaExpr turns a dashboard query into plain PromQL: intervals become 5m, variables a placeholder value.
func grafanaExpr(expr string) string {
	expr = grafanaIntervals.ReplaceAllString(expr, "5m")
	return grafanaVar.ReplaceAllString(expr, "x")
}

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row keeps its panels here
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// DashboardMetrics reads a Grafana dashboard JSON and returns every metric its panels and query variables
// use. Every panel other than a row must have a query, and every query must parse and name a metric.
func DashboardMetrics(path string) ([]Use, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.UID == "" || d.Title == "" {
		return nil, fmt.Errorf("%s: a dashboard needs a uid and a title", path)
	}
	var (
		uses []Use
		errs []error
	)
	add := func(where, expr string) {
		names, err := QueryMetrics(grafanaExpr(expr))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, where, err))
		case len(names) == 0:
			errs = append(errs, fmt.Errorf("%s: %s: query names no metric: %s", path, where, expr))
		}
		for _, n := range names {
			uses = append(uses, Use{Where: where, Metric: n})
		}
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				errs = append(errs, fmt.Errorf("%s: panel %q has no query", path, p.Title))
			}
			for _, t := range p.Targets {
				add(fmt.Sprintf("panel %q %s", p.Title, t.RefID), t.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		var obj struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil {
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				errs = append(errs, fmt.Errorf("%s: variable %s: unreadable query", path, v.Name))
				continue
			}
			q = obj.Query
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		add("variable "+v.Name, q)
	}
	return uses, errors.Join(errs...)
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert         string            `json:"alert"`
			Record        string            `json:"record"`
			Expr          string            `json:"expr"`
			For           string            `json:"for"`
			KeepFiringFor string            `json:"keep_firing_for"`
			Labels        map[string]string `json:"labels"`
			Annotations   map[string]string `json:"annotations"`
		} `json:"rules"`
		Interval string `json:"interval"`
		Limit    int    `json:"limit"`
	} `json:"groups"`
}

// RuleMetrics reads a Prometheus rule file and returns the metrics its expressions use. Names produced by
// recording rules in the same file count as known to later rules.
func RuleMetrics(path string) ([]Use, []string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var (
		uses     []Use
		recorded []string
		errs     []error
	)
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			where := "rule " + r.Alert + r.Record
			names, err := QueryMetrics(r.Expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, where, err))
			}
			for _, n := range names {
				uses = append(uses, Use{Where: where, Metric: n})
			}
			if r.Record != "" {
				recorded = append(recorded, r.Record)
			}
		}
	}
	return uses, recorded, errors.Join(errs...)
}

// CheckKnown fails for every use of a metric that is not in the shared list.
func CheckKnown(uses []Use, recorded []string) error {
	var errs []error
	for _, u := range uses {
		if !Known(u.Metric) && !slices.Contains(recorded, u.Metric) {
			errs = append(errs, fmt.Errorf("%s: %s is not in the project's metric list", u.Where, u.Metric))
		}
	}
	return errors.Join(errs...)
}

// Exported parses a Prometheus text exposition (a /metrics scrape) into its metric families by name.
func Exported(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse scrape: %w", err)
	}
	return fams, nil
}

// CheckExported fails for every used metric that the scrape does not export (with the type the list gives).
// A vector metric is only exported once it has a child, so scrape a server that has served some traffic.
func CheckExported(uses []Use, recorded []string, fams map[string]*dto.MetricFamily) error {
	missing := map[string][]string{}
	for _, u := range uses {
		if slices.Contains(PrometheusSeries, u.Metric) || slices.Contains(recorded, u.Metric) {
			continue
		}
		base, hist := family(u.Metric)
		f, ok := fams[base]
		switch {
		case !ok:
			missing[u.Metric] = append(missing[u.Metric], u.Where)
		case hist && f.GetType() != dto.MetricType_HISTOGRAM:
			missing[u.Metric] = append(missing[u.Metric], u.Where+" (exported, but not as a histogram)")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		errs = append(errs, fmt.Errorf("%s is not exported; used by %s", n, strings.Join(missing[n], "; ")))
	}
	return errors.Join(errs...)
}
