package validate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// UpstreamImages are the image repositories the compose file may pull, each an official or vendor image.
var UpstreamImages = []string{
	"redis", "postgres", "rabbitmq", "stripe/stripe-mock", "prom/prometheus", "grafana/grafana",
}

// LoadCompose loads a compose file the way `docker compose config` does (schema validation, anchors and
// merges, interpolation, path resolution) without reading the caller's environment or a .env file.
func LoadCompose(ctx context.Context, path string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithResolvedPaths(true),
		cli.WithEnv(nil),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return p, nil
}

// CheckCompose checks what the loader does not: images are pinned upstream tags or built here, build files
// and bind-mounted sources exist, and a service waited on as healthy has a healthcheck.
func CheckCompose(p *types.Project) error {
	var errs []error
	bad := func(svc, format string, args ...any) {
		errs = append(errs, fmt.Errorf("service %s: %s", svc, fmt.Sprintf(format, args...)))
	}
	for name, s := range p.Services {
		switch {
		case s.Build != nil:
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				bad(name, "build file: %v", err)
			}
		case s.Image == "":
			bad(name, "needs an image or a build")
		default:
			repo, tag, ok := strings.Cut(s.Image, ":")
			if !ok || tag == "" || tag == "latest" {
				bad(name, "image %s must name a fixed tag", s.Image)
			}
			known := false
			for _, u := range UpstreamImages {
				known = known || repo == u
			}
			if !known {
				bad(name, "image %s is not one of the upstream repositories %v", s.Image, UpstreamImages)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					bad(name, "bind mount: %v", err)
				}
			}
		}
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy {
				if ds, ok := p.Services[dep]; !ok || ds.HealthCheck == nil || ds.HealthCheck.Disable {
					bad(name, "waits for %s to be healthy, but %s has no healthcheck", dep, dep)
				}
			}
		}
	}
	return errors.Join(errs...)
}
