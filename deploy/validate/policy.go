package validate

import (
	"errors"
	"fmt"
	"slices"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AppLabel marks onsale's own workloads; the policy below applies to them (dev's throwaway backends are
// official images that start as root and are exempt).
const AppLabel = "app.kubernetes.io/name"

// Check verifies how a rendered set of objects refers to itself and onsale's deployment policy:
// selectors select, references resolve, and onsale's pods are probed, bounded and unprivileged.
func Check(objs []Object) error {
	c := checker{objs: objs}
	c.names()
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *appsv1.Deployment:
			c.deployment(o, t)
		case *batchv1.Job:
			c.job(o, t)
		case *corev1.Service:
			c.service(o, t)
		case *corev1.Secret:
			c.errf(o, "a Secret in the manifests carries its values in git; reference an externally managed Secret instead")
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.hpa(o, t)
		case *policyv1.PodDisruptionBudget:
			c.pdb(o, t)
		case *monitoringv1.ServiceMonitor:
			c.serviceMonitor(o, t)
		case *networkingv1.Ingress:
			c.ingress(o, t)
		}
	}
	return errors.Join(c.errs...)
}

type checker struct {
	objs []Object
	errs []error
}

func (c *checker) errf(o Object, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", o, fmt.Sprintf(format, args...)))
}

// names rejects two objects of one kind with one name in one namespace (kubectl apply would merge them).
func (c *checker) names() {
	seen := map[string]bool{}
	for _, o := range c.objs {
		k := o.GVK.GroupKind().String() + "/" + o.Namespace + "/" + o.Name
		if seen[k] {
			c.errf(o, "duplicate object")
		}
		seen[k] = true
	}
}

func find[T any](c *checker, namespace, name string) (T, bool) {
	for _, o := range c.objs {
		if t, ok := o.Typed.(T); ok && o.Namespace == namespace && o.Name == name {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// podsSelectedBy returns the pod templates of the Deployments in namespace that sel selects.
func (c *checker) podsSelectedBy(namespace string, sel labels.Selector) []*corev1.PodTemplateSpec {
	var out []*corev1.PodTemplateSpec
	for _, o := range c.objs {
		if d, ok := o.Typed.(*appsv1.Deployment); ok && o.Namespace == namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, &d.Spec.Template)
		}
	}
	return out
}

func (c *checker) deployment(o Object, d *appsv1.Deployment) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || d.Spec.Selector == nil || sel.Empty() {
		c.errf(o, "needs a non-empty spec.selector")
		return
	}
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		c.errf(o, "spec.selector does not match the pod template's labels")
	}
	c.podSpec(o, &d.Spec.Template, true)
}

func (c *checker) job(o Object, j *batchv1.Job) {
	c.podSpec(o, &j.Spec.Template, false)
}

func (c *checker) podSpec(o Object, tmpl *corev1.PodTemplateSpec, serving bool) {
	spec := &tmpl.Spec
	for i, t := range spec.TopologySpreadConstraints {
		for _, u := range spec.TopologySpreadConstraints[:i] {
			if u.TopologyKey == t.TopologyKey {
				c.errf(o, "two topologySpreadConstraints on %s", t.TopologyKey)
			}
		}
		if t.LabelSelector == nil {
			c.errf(o, "topologySpreadConstraint on %s has no labelSelector", t.TopologyKey)
			continue
		}
		if sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err != nil || !sel.Matches(labels.Set(tmpl.Labels)) {
			c.errf(o, "topologySpreadConstraint on %s does not select the pod itself", t.TopologyKey)
		}
	}
	for _, ref := range spec.Volumes {
		if ref.ConfigMap != nil {
			c.configMapExists(o, ref.ConfigMap.Name)
		}
	}
	for _, ctr := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, from := range ctr.EnvFrom {
			if from.ConfigMapRef != nil && (from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional) {
				c.configMapExists(o, from.ConfigMapRef.Name)
			}
		}
	}
	if o.Labels[AppLabel] != "onsale" {
		return
	}
	if spec.ServiceAccountName != "" {
		if _, ok := find[*corev1.ServiceAccount](c, o.Namespace, spec.ServiceAccountName); !ok {
			c.errf(o, "service account %q is not in the manifests", spec.ServiceAccountName)
		}
	}
	podNonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	podUser := spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil && *spec.SecurityContext.RunAsUser != 0
	for _, ctr := range spec.Containers {
		sc := ctr.SecurityContext
		if sc == nil {
			c.errf(o, "container %s: needs a securityContext", ctr.Name)
			continue
		}
		nonRoot := podNonRoot || (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot)
		user := podUser || (sc.RunAsUser != nil && *sc.RunAsUser != 0)
		if !nonRoot || !user {
			c.errf(o, "container %s: must run as a numeric non-root user (runAsNonRoot and runAsUser)", ctr.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			c.errf(o, "container %s: root filesystem must be read-only", ctr.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			c.errf(o, "container %s: allowPrivilegeEscalation must be false", ctr.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			c.errf(o, "container %s: must drop ALL capabilities", ctr.Name)
		}
		if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() {
			c.errf(o, "container %s: needs cpu and memory requests", ctr.Name)
		}
		if ctr.Resources.Limits.Memory().IsZero() {
			c.errf(o, "container %s: needs a memory limit", ctr.Name)
		}
		if !serving {
			continue
		}
		c.probe(o, ctr, "readinessProbe", ctr.ReadinessProbe, "/readyz")
		c.probe(o, ctr, "livenessProbe", ctr.LivenessProbe, "/healthz")
	}
}

func (c *checker) probe(o Object, ctr corev1.Container, what string, p *corev1.Probe, path string) {
	if p == nil || p.HTTPGet == nil {
		c.errf(o, "container %s: needs an HTTP %s on %s", ctr.Name, what, path)
		return
	}
	if p.HTTPGet.Path != path {
		c.errf(o, "container %s: %s must GET %s, not %s", ctr.Name, what, path, p.HTTPGet.Path)
	}
	if !hasPort(ctr.Ports, p.HTTPGet.Port) {
		c.errf(o, "container %s: %s port %s is not a container port", ctr.Name, what, p.HTTPGet.Port.String())
	}
}

func hasPort(ports []corev1.ContainerPort, p intstr.IntOrString) bool {
	for _, cp := range ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return true
		}
	}
	return false
}

func (c *checker) configMapExists(o Object, name string) {
	if _, ok := find[*corev1.ConfigMap](c, o.Namespace, name); !ok {
		c.errf(o, "ConfigMap %q is not in the manifests", name)
	}
}

func (c *checker) service(o Object, s *corev1.Service) {
	if len(s.Spec.Selector) == 0 {
		return // a selector-less Service has its endpoints managed elsewhere
	}
	pods := c.podsSelectedBy(o.Namespace, labels.SelectorFromSet(s.Spec.Selector))
	if len(pods) == 0 {
		c.errf(o, "selector %v selects no Deployment's pods", s.Spec.Selector)
		return
	}
	for _, port := range s.Spec.Ports {
		if port.TargetPort.Type != intstr.String {
			continue
		}
		for _, pod := range pods {
			found := false
			for _, ctr := range pod.Spec.Containers {
				found = found || hasPort(ctr.Ports, port.TargetPort)
			}
			if !found {
				c.errf(o, "targetPort %q is not a port of the selected pods", port.TargetPort.StrVal)
			}
		}
	}
}

func (c *checker) hpa(o Object, h *autoscalingv2.HorizontalPodAutoscaler) {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" {
		c.errf(o, "scales a %s; only Deployments are expected", ref.Kind)
	} else if _, ok := find[*appsv1.Deployment](c, o.Namespace, ref.Name); !ok {
		c.errf(o, "scaleTargetRef %s is not in the manifests", ref.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
		c.errf(o, "needs 1 <= minReplicas <= maxReplicas")
	}
	if len(h.Spec.Metrics) == 0 {
		c.errf(o, "has no metrics")
	}
}

func (c *checker) pdb(o Object, p *policyv1.PodDisruptionBudget) {
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || p.Spec.Selector == nil || sel.Empty() {
		c.errf(o, "needs a non-empty selector")
		return
	}
	if len(c.podsSelectedBy(o.Namespace, sel)) == 0 {
		c.errf(o, "selector selects no Deployment's pods")
	}
	if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
		c.errf(o, "needs exactly one of minAvailable and maxUnavailable")
	}
}

func (c *checker) serviceMonitor(o Object, m *monitoringv1.ServiceMonitor) {
	sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	if err != nil || sel.Empty() {
		c.errf(o, "needs a non-empty selector")
		return
	}
	var services []*corev1.Service
	for _, so := range c.objs {
		if s, ok := so.Typed.(*corev1.Service); ok && so.Namespace == o.Namespace && sel.Matches(labels.Set(s.Labels)) {
			services = append(services, s)
		}
	}
	if len(services) == 0 {
		c.errf(o, "selector selects no Service")
	}
	for _, ep := range m.Spec.Endpoints {
		for _, s := range services {
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
				c.errf(o, "endpoint port %q is not a port of Service %s", ep.Port, s.Name)
			}
		}
	}
}

func (c *checker) ingress(o Object, in *networkingv1.Ingress) {
	for _, rule := range in.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, path := range rule.HTTP.Paths {
			b := path.Backend.Service
			if b == nil {
				continue
			}
			s, ok := find[*corev1.Service](c, o.Namespace, b.Name)
			if !ok {
				c.errf(o, "path %s: Service %s is not in the manifests", path.Path, b.Name)
				continue
			}
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool {
				return (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Number != 0 && p.Port == b.Port.Number)
			}) {
				c.errf(o, "path %s: Service %s has no port %s%d", path.Path, b.Name, b.Port.Name, b.Port.Number)
			}
		}
	}
}
