package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepositoryCompose(t *testing.T) {
	t.Parallel()
	p, err := LoadCompose(context.Background(), "../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCompose(p); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"migrate", "core", "waitroom", "settler", "redis", "postgres", "rabbitmq", "stripe-mock", "prometheus", "grafana"} {
		if _, ok := p.Services[svc]; !ok {
			t.Errorf("service %s missing", svc)
		}
	}
	if got := p.Services["core"].Command; strings.Join(got, " ") != "serve --roles core --debug-addr 127.0.0.1:6060" {
		t.Errorf("core command %q", got)
	}
}

// composeCopy copies the compose file with one change into a folder laid out like deploy/.
func composeCopy(t *testing.T, old, new string) string {
	t.Helper()
	raw, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("compose file lacks %q", old)
	}
	abs, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(raw), old, new, 1)
	// Point relative paths at the real deploy/ folder so that only the change under test differs.
	body = strings.ReplaceAll(body, "./prometheus", abs+"/prometheus")
	body = strings.ReplaceAll(body, "./grafana", abs+"/grafana")
	body = strings.ReplaceAll(body, "context: ..", "context: "+filepath.Dir(abs))
	return writeFile(t, "compose.yaml", body)
}

func TestComposeMistakesAreCaught(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, old, new, want string }{
		{"misspelt key", "    image: redis:7.4-alpine", "    imagee: redis:7.4-alpine", "imagee"},
		{"untagged image", "image: redis:7.4-alpine", "image: redis", "must name a fixed tag"},
		{"latest tag", "image: prom/prometheus:v2.55.1", "image: prom/prometheus:latest", "must name a fixed tag"},
		{"unknown repository", "image: stripe/stripe-mock:v0.194.0", "image: stripe/stripe-mok:v0.194.0", "not one of the upstream repositories"},
		{"missing mount", "/prometheus:/etc/prometheus:ro", "/prometheus-missing:/etc/prometheus:ro", "bind mount"},
		{"missing Dockerfile", "dockerfile: deploy/docker/Dockerfile", "dockerfile: deploy/docker/Dockerfile.missing", "build file"},
		{"healthy without healthcheck", "  stripe-mock:\n    image: stripe/stripe-mock:v0.194.0\n", "  stripe-mock:\n    image: stripe/stripe-mock:v0.194.0\n    healthcheck: {disable: true}\n", "no healthcheck"},
		{"wrong type", `ports: ["9090:9090"]`, `ports: {a: b}`, "ports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := composeCopy(t, tc.old, tc.new)
			if tc.name == "healthy without healthcheck" {
				raw, _ := os.ReadFile(path)
				body := strings.Replace(string(raw), "    stripe-mock:\n      condition: service_started", "    stripe-mock:\n      condition: service_healthy", 1)
				if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p, err := LoadCompose(context.Background(), path)
			if err == nil {
				err = CheckCompose(p)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not say %q", err, tc.want)
			}
		})
	}
}
