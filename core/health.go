package core

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// healthz: GET /healthz, the process is up.
func (s *Server) healthz(ctx *fasthttp.RequestCtx, _ string) error {
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ok"}`)
	return nil
}

// probe pings every backend at once and records onsale_backend_up; it returns the failures by backend, and
// whether one of them is a required backend (an optional one is reported but does not make the process unready).
func (s *Server) probe(ctx context.Context) (failed map[string]string, required bool) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := range s.checks {
		c := &s.checks[i]
		wg.Go(func() {
			err := s.ping(ctx, c)
			up := 1.0
			if err != nil {
				up = 0
				mu.Lock()
				if failed == nil {
					failed = map[string]string{}
				}
				failed[c.Name] = err.Error()
				required = required || !c.Optional
				mu.Unlock()
			}
			s.metrics.backendUp.WithLabelValues(c.Name).Set(up)
		})
	}
	wg.Wait()
	return failed, required
}

// ping asks one backend, or repeats its last answer while that is younger than the check's MinInterval.
func (s *Server) ping(ctx context.Context, c *Check) error {
	if c.MinInterval > 0 {
		s.pingMu.Lock()
		last, ok := s.pinged[c.Name]
		s.pingMu.Unlock()
		if ok && time.Since(last.at) < c.MinInterval {
			return last.err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := c.Ping(pctx)
	if c.MinInterval > 0 {
		s.pingMu.Lock()
		s.pinged[c.Name] = pingResult{at: time.Now(), err: err}
		s.pingMu.Unlock()
	}
	return err
}

type pingResult struct {
	at  time.Time
	err error
}

// readyz: GET /readyz, every required backend answers.
func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ string) error {
	failed, required := s.probe(context.Background())
	for name, err := range failed {
		s.log.Warn("backend not ready", slog.String("backend", name), slog.String("err", err))
	}
	if required {
		p := problemf(503, typeUnavailable, fmt.Sprintf("not reachable: %v", keys(failed)))
		p.retryAfter = 1
		return p
	}
	ctx.SetContentType("application/json")
	if len(failed) > 0 {
		// Ready, and saying what is degraded: the optional backends that did not answer.
		body, _ := json.Marshal(struct {
			Status   string   `json:"status"`
			Degraded []string `json:"degraded"`
		}{"ready", keys(failed)})
		ctx.SetBody(body)
		return nil
	}
	ctx.SetBodyString(`{"status":"ready"}`)
	return nil
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// serveMetrics: GET /metrics in the Prometheus text format.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, _ string) error {
	s.metricsHandler(ctx)
	return nil
}

func newMetricsHandler(s *Server) fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorLog: nil}))
}
