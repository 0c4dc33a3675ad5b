package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type datasourceFile struct {
	APIVersion  int `json:"apiVersion"`
	Datasources []struct {
		Name      string         `json:"name"`
		UID       string         `json:"uid"`
		Type      string         `json:"type"`
		Access    string         `json:"access"`
		URL       string         `json:"url"`
		IsDefault bool           `json:"isDefault"`
		JSONData  map[string]any `json:"jsonData"`
	} `json:"datasources"`
}

// CheckGrafana reads a datasource provisioning file strictly and verifies that every datasource a
// dashboard's panels and queries name by uid is provisioned with that uid and type.
func CheckGrafana(datasources string, dashboards []string) error {
	raw, err := os.ReadFile(datasources)
	if err != nil {
		return err
	}
	var f datasourceFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return fmt.Errorf("%s: %w", datasources, err)
	}
	if f.APIVersion != 1 || len(f.Datasources) == 0 {
		return fmt.Errorf("%s: needs apiVersion 1 and at least one datasource", datasources)
	}
	types := map[string]string{}
	for _, d := range f.Datasources {
		if d.UID == "" || d.URL == "" {
			return fmt.Errorf("%s: datasource %q needs a uid and a url", datasources, d.Name)
		}
		types[d.UID] = d.Type
	}
	var errs []error
	for _, path := range dashboards {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var any map[string]any
		if err := json.Unmarshal(raw, &any); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		walkDatasources(any, func(uid, typ string) {
			if t, ok := types[uid]; !ok || t != typ {
				errs = append(errs, fmt.Errorf("%s: datasource {uid %q, type %q} is not provisioned in %s", path, uid, typ, datasources))
			}
		})
	}
	return errors.Join(errs...)
}

// walkDatasources calls f for every {"datasource": {"uid", "type"}} anywhere in a dashboard.
func walkDatasources(v any, f func(uid, typ string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if ds, ok := child.(map[string]any); ok && k == "datasource" {
				uid, _ := ds["uid"].(string)
				typ, _ := ds["type"].(string)
				f(uid, typ)
				continue
			}
			walkDatasources(child, f)
		}
	case []any:
		for _, child := range t {
			walkDatasources(child, f)
		}
	}
}
