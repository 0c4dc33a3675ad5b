package loadtest

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/onsale/onsale/internal/testenv"
)

// TestK6BudgetMatchesTheGenerator reads budget.json through the k6 scripts' lib/budget.js (with node, as k6 would
// run it): it knows the generator's endpoints, accepts the shipped budget, and maps the payment budget to
// well-formed thresholds around the mix's shares.
func TestK6BudgetMatchesTheGenerator(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if testenv.Required() {
			t.Fatal("node is needed to check the k6 budget mapping")
		}
		t.Skip("no node")
	}
	cmd := exec.Command(node, "--input-type=module", "-e", `
import { readFileSync } from "node:fs";
import { parseBudget, thresholdsFrom, ENDPOINTS } from "./lib/budget.js";
const budget = parseBudget(readFileSync("../budget.json", "utf8"));
const outcomes = { paid: 0.85, declined: 0.05, "3ds-failed": 0.05, "hold-expired": 0.05 };
console.log(JSON.stringify({ endpoints: ENDPOINTS, plain: thresholdsFrom(budget, { sellout: true }),
  paying: thresholdsFrom(budget, { sellout: true, outcomes }) }));`)
	cmd.Dir = "k6"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Endpoints     []string
		Plain, Paying map[string][]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var want []string
	for _, e := range Endpoints {
		want = append(want, string(e))
	}
	if !slices.Equal(got.Endpoints, want) {
		t.Errorf("k6 endpoints %v, the generator's %v", got.Endpoints, want)
	}
	b, err := LoadBudget("budget.json")
	if err != nil {
		t.Fatal(err)
	}
	tol := *b.Payments.OutcomeTolerance
	expr := regexp.MustCompile(`^(p\(\d+(\.\d+)?\)|avg|min|max|med|rate|count)(<|<=|>|>=|==|===|!=)\d+(\.\d+)?$`) // as scripts/check-k6.sh
	for m, exprs := range got.Paying {
		for _, e := range exprs {
			if !expr.MatchString(e) {
				t.Errorf("malformed threshold %s: %s", m, e)
			}
		}
		if _, plain := got.Plain[m]; !plain && !strings.HasPrefix(m, "pay_") && m != "time_to_pay" {
			t.Errorf("a payment threshold on %s", m)
		}
	}
	for m, w := range map[string][]string{
		"time_to_pay":      {"p(95)<=" + ftoa(b.Payments.TimeToPay.P95Ms), "p(99)<=" + ftoa(b.Payments.TimeToPay.P99Ms)},
		"pay_paid":         {"rate>=" + ftoa(0.85-tol), "rate<=" + ftoa(0.85+tol)},
		"pay_hold_expired": {"rate>=" + ftoa(max(0, 0.05-tol)), "rate<=" + ftoa(0.05+tol)},
	} {
		if !slices.Equal(got.Paying[m], w) {
			t.Errorf("%s: thresholds %v, want %v", m, got.Paying[m], w)
		}
	}
	if _, ok := got.Plain["time_to_pay"]; ok {
		t.Error("payment thresholds without a mix")
	}
}

func ftoa(v float64) string {
	b, _ := json.Marshal(float64(int64(v*10000+0.5)) / 10000)
	return string(b)
}
