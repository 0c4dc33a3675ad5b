package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	Source    string // file name and document number, for messages
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	Labels    map[string]string
	// Typed is the strictly decoded object, or nil for a kind in Unvalidated.
	Typed runtime.Object
}

func (o Object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.GVK.Kind, o.Namespace, o.Name, o.Source)
}

// Unvalidated lists the custom resources whose Go types are not vendored here, with why. They are still
// parsed as YAML and must name apiVersion, kind and metadata.name; any other unknown kind is an error.
var Unvalidated = map[schema.GroupKind]string{
	{Group: "external-secrets.io", Kind: "ExternalSecret"}: "External Secrets' API module pulls in its whole operator; checked by its admission webhook at apply time",
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("kubernetes scheme: %v", err)) // programming error: fixed type registrations
		}
	}
	return s
}()

// strict rejects unknown fields and duplicate keys, which is what catches a misspelt field name.
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// DecodeManifests reads a multi-document YAML stream (kubectl kustomize output) and decodes every document
// strictly into its typed Kubernetes struct. It reports every bad document, not only the first.
func DecodeManifests(source string, r io.Reader) ([]Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var (
		objs []Object
		errs []error
	)
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read document %d: %w", source, n, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, err := decodeOne(fmt.Sprintf("%s#%d", source, n), doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

func decodeOne(source string, doc []byte) (Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	if head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
		return Object{}, fmt.Errorf("%s: apiVersion, kind and metadata.name are required", source)
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	obj := Object{
		Source: source, GVK: gv.WithKind(head.Kind),
		Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, Labels: head.Metadata.Labels,
	}
	if _, skip := Unvalidated[obj.GVK.GroupKind()]; skip {
		return obj, nil
	}
	if !scheme.Recognizes(obj.GVK) {
		return Object{}, fmt.Errorf("%s: %s is not a known kind (misspelt, or add its Go types to the scheme)", source, obj.GVK)
	}
	typed, _, err := strict.Decode(doc, nil, nil)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %s %s: %w", source, head.Kind, head.Metadata.Name, err)
	}
	obj.Typed = typed
	return obj, nil
}

// stripComments drops whole-line comments so that a document of only comments counts as empty.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for line := range strings.SplitSeq(string(doc), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}
