package validate

import (
	"os"
	"strings"
	"testing"
)

func goodManifests(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func decodeAndCheck(src string) error {
	objs, err := DecodeManifests("test.yaml", strings.NewReader(src))
	if err != nil {
		return err
	}
	return Check(objs)
}

func TestGoodManifestsPass(t *testing.T) {
	t.Parallel()
	objs, err := DecodeManifests("good.yaml", strings.NewReader(goodManifests(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 8 {
		t.Fatalf("decoded %d objects, want 8", len(objs))
	}
	for _, o := range objs {
		if (o.Typed == nil) != (o.GVK.Kind == "ExternalSecret") {
			t.Errorf("%s: typed=%v", o, o.Typed != nil)
		}
	}
	if err := Check(objs); err != nil {
		t.Fatal(err)
	}
}

// Each mutation of the good manifests must be caught, with a message that says what is wrong.
func TestManifestMistakesAreCaught(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, old, new, want string
	}{
		{"misspelt field", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"misspelt CRD field", "  endpoints:", "  endpoint:", `unknown field "spec.endpoint"`},
		{"wrong type", "replicas: 2", "replicas: two", "replicas"},
		{"duplicate key", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", `key "replicas" already set`},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgit", "is not a known kind"},
		{"no readiness probe", "          readinessProbe:\n            httpGet: {path: /readyz, port: http}\n", "", "needs an HTTP readinessProbe on /readyz"},
		{"liveness on the wrong path", "path: /healthz", "path: /readyz", "livenessProbe must GET /healthz"},
		{"probe on an undeclared port", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /readyz, port: metrics}", "readinessProbe port metrics is not a container port"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "root filesystem must be read-only"},
		{"root user", "runAsUser: 65532", "runAsUser: 0", "numeric non-root user"},
		{"capabilities kept", "drop: [ALL]", "drop: [NET_RAW]", "must drop ALL"},
		{"no memory limit", "limits: {memory: 128Mi}", "limits: {}", "needs a memory limit"},
		{"selector misses its pods", "selector: {app.kubernetes.io/name: onsale, app.kubernetes.io/component: core}", "selector: {app.kubernetes.io/name: onsale, app.kubernetes.io/component: cor}", "selects no Deployment's pods"},
		{"service port not on the pod", "targetPort: http", "targetPort: web", `targetPort "web" is not a port`},
		{"HPA on a missing deployment", "kind: Deployment, name: onsale-core", "kind: Deployment, name: onsale-cor", "scaleTargetRef onsale-cor is not in the manifests"},
		{"HPA min above max", "minReplicas: 2", "minReplicas: 20", "minReplicas <= maxReplicas"},
		{"monitor on a missing port", "{port: http, path: /metrics", "{port: metrics, path: /metrics", `endpoint port "metrics" is not a port`},
		{"missing ConfigMap", "configMapRef: {name: onsale-config}", "configMapRef: {name: onsale-conf}", `ConfigMap "onsale-conf" is not in the manifests`},
		{"spread selects other pods", "whenUnsatisfiable: ScheduleAnyway\n          labelSelector:\n            matchLabels: {app.kubernetes.io/name: onsale, app.kubernetes.io/component: core}",
			"whenUnsatisfiable: ScheduleAnyway\n          labelSelector:\n            matchLabels: {app.kubernetes.io/name: onsale, app.kubernetes.io/component: waitroom}", "does not select the pod itself"},
		{"secret values in git", "---\n# An unvalidated", "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: t}\nstringData: {ONSALE_TOKEN_SECRET: x}\n---\n# An unvalidated", "a Secret in the manifests"},
		{"duplicate object", "---\n# An unvalidated", "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: onsale, namespace: t}\n---\n# An unvalidated", "duplicate object"},
		{"missing name", "metadata: {name: onsale-config, namespace: t}", "metadata: {namespace: t}", "metadata.name are required"},
	}
	good := goodManifests(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(good, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			err := decodeAndCheck(strings.Replace(good, tc.old, tc.new, 1))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
