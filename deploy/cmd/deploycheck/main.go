// Command deploycheck validates onsale's deployment files offline; scripts/check-deploy.sh runs it.
//
//	deploycheck k8s FILE...                 strict typed decode + references + policy of rendered manifests
//	deploycheck compose FILE                compose file through the Compose Specification loader
//	deploycheck dockerfile FILE             the image's build promises
//	deploycheck grafana DATASOURCES.yml DASHBOARD.json...
//	                                        provisioning parses strictly; dashboards name provisioned datasources
//	deploycheck static FILE                 a built binary needs no dynamic loader or shared library
//	deploycheck metrics [--scrape FILE | --metrics-url URL] DASHBOARD.json... RULES.yml...
//	                                        every metric used is in the project's list (and exported)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/onsale/onsale/deploy/validate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: deploycheck k8s|compose|dockerfile|static|grafana|metrics ARGS")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "k8s":
		return k8s(args, out)
	case "compose":
		if len(args) != 1 {
			return errors.New("usage: deploycheck compose FILE")
		}
		p, err := validate.LoadCompose(ctx, args[0])
		if err != nil {
			return err
		}
		if err := validate.CheckCompose(p); err != nil {
			return fmt.Errorf("%s:\n%w", args[0], err)
		}
		fmt.Fprintf(out, "compose %s: %d services ok\n", args[0], len(p.Services))
		return nil
	case "dockerfile":
		if len(args) != 1 {
			return errors.New("usage: deploycheck dockerfile FILE")
		}
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		ins, err := validate.ParseDockerfile(f)
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if err := validate.CheckDockerfile(ins); err != nil {
			return fmt.Errorf("%s:\n%w", args[0], err)
		}
		fmt.Fprintf(out, "dockerfile %s: %d instructions ok\n", args[0], len(ins))
		return nil
	case "static":
		for _, a := range args {
			if err := validate.CheckStatic(a); err != nil {
				return err
			}
			fmt.Fprintf(out, "binary %s: static\n", a)
		}
		return nil
	case "metrics":
		return metrics(ctx, args, out)
	case "grafana":
		if len(args) < 2 {
			return errors.New("usage: deploycheck grafana DATASOURCES.yml DASHBOARD.json...")
		}
		if err := validate.CheckGrafana(args[0], args[1:]); err != nil {
			return err
		}
		fmt.Fprintf(out, "grafana: %d dashboards name only provisioned datasources\n", len(args)-1)
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func k8s(files []string, out io.Writer) error {
	if len(files) == 0 {
		return errors.New("usage: deploycheck k8s FILE...")
	}
	var errs []error
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		objs, err := validate.DecodeManifests(name, f)
		f.Close()
		if err == nil {
			err = validate.Check(objs)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.GVK.Kind]++
			if o.Typed == nil {
				fmt.Fprintf(out, "  %s: not schema-checked: %s\n", o, validate.Unvalidated[o.GVK.GroupKind()])
			}
		}
		fmt.Fprintf(out, "k8s %s: %d objects ok %v\n", name, len(objs), kinds)
	}
	return errors.Join(errs...)
}

func metrics(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	scrape := fs.String("scrape", "", "a /metrics scrape `file` that must export every used metric")
	url := fs.String("metrics-url", "", "a live /metrics `URL` that must export every used metric")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		uses     []validate.Use
		recorded []string
		errs     []error
	)
	for _, path := range fs.Args() {
		var (
			u   []validate.Use
			rec []string
			err error
		)
		if strings.HasSuffix(path, ".json") {
			u, err = validate.DashboardMetrics(path)
		} else {
			u, rec, err = validate.RuleMetrics(path)
		}
		errs = append(errs, err)
		uses = append(uses, u...)
		recorded = append(recorded, rec...)
	}
	errs = append(errs, validate.CheckKnown(uses, recorded))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "metrics: %d uses in %d files, every name in the project's list\n", len(uses), len(fs.Args()))

	var body io.ReadCloser
	switch {
	case *scrape != "" && *url != "":
		return errors.New("give --scrape or --metrics-url, not both")
	case *scrape != "":
		f, err := os.Open(*scrape)
		if err != nil {
			return err
		}
		body = f
	case *url != "":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/plain; version=0.0.4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("scrape %s: %w", *url, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("scrape %s: %s", *url, resp.Status)
		}
		body = resp.Body
	default:
		return nil
	}
	defer body.Close()
	fams, err := validate.Exported(body)
	if err != nil {
		return err
	}
	if err := validate.CheckExported(uses, recorded, fams); err != nil {
		return err
	}
	fmt.Fprintf(out, "metrics: all %d uses exported by the scrape (%d families)\n", len(uses), len(fams))
	return nil
}
