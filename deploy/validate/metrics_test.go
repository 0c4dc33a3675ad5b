package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"
)

func TestQueryMetrics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want []string
	}{
		{`histogram_quantile(0.99, sum by (le) (rate(onsale_settlement_lag_seconds_bucket[5m]))) > 60`, []string{"onsale_settlement_lag_seconds_bucket"}},
		{`sum(rate(a_total{code=~"5.."}[5m])) / sum(rate(a_total[5m]))`, []string{"a_total"}},
		{`{__name__="onsale_backend_up", backend="redis"} == 0`, []string{"onsale_backend_up"}},
		{`x > 0 and y == 0 unless z`, []string{"x", "y", "z"}},
		{`vector(1)`, nil},
	}
	for _, tc := range cases {
		got, err := QueryMetrics(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		sort.Strings(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.expr, got, tc.want)
		}
	}
	if _, err := QueryMetrics(`sum(rate(x[5m])`); err == nil {
		t.Error("unbalanced parenthesis parsed")
	}
}

func TestKnown(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"onsale_waitroom_queued":                   true,
		"onsale_settlement_lag_seconds_bucket":     true,
		"onsale_settlement_lag_seconds_count":      true,
		"onsale_settlement_lag_seconds":            false, // a histogram is queried by its series
		"onsale_waitroom_queued_bucket":            false, // a gauge has no buckets
		"onsale_http_request_duration_seconds_sum": true,
		"go_goroutines":                            true,
		"process_resident_memory_bytes":            true,
		"up":                                       true,
		"onsale_inventory_audit_difference":        false,
		"onsale_settlement_dead_letters":           false,
		"onsale_http_requests_total_bucket":        false,
	} {
		if got := Known(name); got != want {
			t.Errorf("Known(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestGrafanaExpr(t *testing.T) {
	t.Parallel()
	got := grafanaExpr(`sum(rate(x{event=~"$event",a="${b}"}[$__rate_interval])) * ${__interval}`)
	want := `sum(rate(x{event=~"x",a="x"}[5m])) * 5m`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDashboardMistakesAreCaught(t *testing.T) {
	t.Parallel()
	const head = `{"uid": "u", "title": "t", "panels": [`
	cases := []struct{ name, panels, want string }{
		{"unknown metric", `{"type": "timeseries", "title": "p", "targets": [{"refId": "A", "expr": "rate(onsale_holds_total[5m])"}]}`, "onsale_holds_total is not in the project's metric list"},
		{"no query", `{"type": "stat", "title": "empty", "targets": []}`, `panel "empty" has no query`},
		{"bad query", `{"type": "stat", "title": "p", "targets": [{"refId": "A", "expr": "sum(rate(onsale_waitroom_queued[5m])"}]}`, `panel "p" A`},
		{"query without metric", `{"type": "stat", "title": "p", "targets": [{"refId": "A", "expr": "vector(1)"}]}`, "names no metric"},
		{"unknown metric in a collapsed row", `{"type": "row", "title": "r", "panels": [{"type": "stat", "title": "inner", "targets": [{"refId": "A", "expr": "onsale_nope"}]}]}`, "onsale_nope is not in"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uses, err := DashboardMetrics(writeFile(t, "d.json", head+tc.panels+`]}`))
			if err == nil {
				err = CheckKnown(uses, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not say %q", err, tc.want)
			}
		})
	}
}

func TestRuleMistakesAreCaught(t *testing.T) {
	t.Parallel()
	uses, rec, err := RuleMetrics(writeFile(t, "r.yml", `groups:
  - name: g
    rules:
      - record: onsale:holds:rate5m
        expr: sum(rate(onsale_inventory_holds_total[5m]))
      - alert: A
        expr: onsale:holds:rate5m > 0 and onsale_inventory_hold_total > 0
`))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckKnown(uses, rec)
	if err == nil || !strings.Contains(err.Error(), "rule A: onsale_inventory_hold_total is not in") || strings.Contains(err.Error(), "onsale:holds:rate5m") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := RuleMetrics(writeFile(t, "r.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        anotations: {}\n")); err == nil {
		t.Fatal("misspelt rule field accepted")
	}
}

// scrape renders a text exposition with one sample of every listed metric except those in skip.
func scrape(skip ...string) string {
	var b strings.Builder
	for name, typ := range Metrics {
		if slices.Contains(skip, name) {
			continue
		}
		switch typ {
		case dto.MetricType_HISTOGRAM:
			fmt.Fprintf(&b, "# TYPE %s histogram\n%s_bucket{le=\"1\"} 1\n%s_bucket{le=\"+Inf\"} 1\n%s_sum 0.5\n%s_count 1\n", name, name, name, name, name)
		case dto.MetricType_COUNTER:
			fmt.Fprintf(&b, "# TYPE %s counter\n%s{x=\"y\"} 1\n", name, name)
		default:
			fmt.Fprintf(&b, "# TYPE %s gauge\n%s{x=\"y\"} 1\n", name, name)
		}
	}
	b.WriteString("# TYPE go_goroutines gauge\ngo_goroutines 8\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1e+07\n")
	return b.String()
}

// repositoryUses is every metric the project's dashboard and rules use.
func repositoryUses(t *testing.T) []Use {
	t.Helper()
	uses, err := DashboardMetrics("../grafana/dashboards/onsale.json")
	if err != nil {
		t.Fatal(err)
	}
	ruleUses, rec, err := RuleMetrics("../prometheus/rules/onsale.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 0 {
		t.Fatalf("recording rules %v: pass them to the checks below", rec)
	}
	return append(uses, ruleUses...)
}

func TestRepositoryDashboardAndRulesUseListedMetrics(t *testing.T) {
	t.Parallel()
	uses := repositoryUses(t)
	if err := CheckKnown(uses, nil); err != nil {
		t.Fatal(err)
	}
	// The dashboard covers every listed metric: a metric nobody looks at is a metric nobody maintains.
	seen := map[string]bool{}
	for _, u := range uses {
		base, _ := family(u.Metric)
		seen[base] = true
	}
	for name := range Metrics {
		if !seen[name] {
			t.Errorf("%s is used by no panel or rule", name)
		}
	}
}

func TestRepositoryMetricsAgainstScrape(t *testing.T) {
	t.Parallel()
	uses := repositoryUses(t)
	fams, err := Exported(strings.NewReader(scrape()))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckExported(uses, nil, fams); err != nil {
		t.Fatalf("a scrape with every listed metric: %v", err)
	}

	fams, err = Exported(strings.NewReader(scrape("onsale_inventory_audit_differences", "onsale_settlement_lag_seconds")))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckExported(uses, nil, fams)
	for _, want := range []string{
		"onsale_inventory_audit_differences is not exported; used by",
		"rule OnsaleOversell",
		"onsale_settlement_lag_seconds_bucket is not exported",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}

	// The right name with the wrong type is as broken as a missing one for histogram_quantile.
	wrongType := strings.Replace(scrape(), "# TYPE onsale_settlement_lag_seconds histogram", "# TYPE onsale_settlement_lag_seconds summary", 1)
	wrongType = strings.ReplaceAll(wrongType, `onsale_settlement_lag_seconds_bucket{le="1"} 1`+"\n", "")
	wrongType = strings.ReplaceAll(wrongType, `onsale_settlement_lag_seconds_bucket{le="+Inf"} 1`+"\n", "")
	fams, err = Exported(strings.NewReader(wrongType))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckExported(uses, nil, fams); err == nil || !strings.Contains(err.Error(), "not as a histogram") {
		t.Fatalf("summary accepted as a histogram: %v", err)
	}
}

// A real scrape of the server after a little traffic exports every metric the dashboard and rules use.
func TestServeScrape(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/serve.metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fams, err := Exported(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckExported(repositoryUses(t), nil, fams); err != nil {
		t.Fatal(err)
	}
	for name, typ := range Metrics {
		if f, ok := fams[name]; ok && f.GetType() != typ {
			t.Errorf("%s is exported as %s, the list says %s", name, f.GetType(), typ)
		}
	}
}

// Every alert links to its section of the runbook, and that section exists.
func TestAlertsHaveRunbookSections(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../prometheus/rules/onsale.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatal(err)
	}
	book, err := os.ReadFile("../RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if want := "deploy/RUNBOOK.md#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook annotation %q, want %q", r.Alert, r.Annotations["runbook"], want)
			}
			if !strings.Contains(string(book), "\n#### "+r.Alert+"\n") {
				t.Errorf("%s: RUNBOOK.md has no section \"#### %s\"", r.Alert, r.Alert)
			}
			if r.Labels["severity"] != "page" && r.Labels["severity"] != "warning" {
				t.Errorf("%s: severity %q, want page or warning", r.Alert, r.Labels["severity"])
			}
		}
	}
	if alerts < 10 {
		t.Fatalf("only %d alerts found", alerts)
	}
}
