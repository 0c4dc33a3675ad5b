package validate

import (
	"os"
	"strings"
	"testing"
)

const datasources = "../grafana/provisioning/datasources/prometheus.yml"

func TestRepositoryGrafana(t *testing.T) {
	t.Parallel()
	if err := CheckGrafana(datasources, []string{"../grafana/dashboards/onsale.json"}); err != nil {
		t.Fatal(err)
	}
}

func TestGrafanaMistakesAreCaught(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../grafana/dashboards/onsale.json")
	if err != nil {
		t.Fatal(err)
	}
	wrongUID := writeFile(t, "d.json", strings.Replace(string(raw), `"uid": "prometheus"`, `"uid": "prom"`, 1))
	if err := CheckGrafana(datasources, []string{wrongUID}); err == nil || !strings.Contains(err.Error(), `uid "prom"`) {
		t.Fatalf("unprovisioned datasource accepted: %v", err)
	}
	ds, err := os.ReadFile(datasources)
	if err != nil {
		t.Fatal(err)
	}
	misspelt := writeFile(t, "ds.yml", strings.Replace(string(ds), "isDefault:", "isDefualt:", 1))
	if err := CheckGrafana(misspelt, nil); err == nil || !strings.Contains(err.Error(), "isDefualt") {
		t.Fatalf("misspelt provisioning field accepted: %v", err)
	}
}
