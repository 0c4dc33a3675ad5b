package core

import (
	"context"
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

// probe pings every backend at once and records onsale_backend_up; it returns the failures by backend.
func (s *Server) probe(ctx context.Context) map[string]string {
	var (
		mu     sync.Mutex
		failed map[string]string
		wg     sync.WaitGroup
	)
	for _, c := range s.checks {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			err := c.Ping(pctx)
			up := 1.0
			if err != nil {
				up = 0
				mu.Lock()
				if failed == nil {
					failed = map[string]string{}
				}
				failed[c.Name] = err.Error()
				mu.Unlock()
			}
			s.metrics.backendUp.WithLabelValues(c.Name).Set(up)
		})
	}
	wg.Wait()
	return failed
}

// readyz: GET /readyz, every configured backend answers.
func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ string) error {
	if failed := s.probe(context.Background()); len(failed) > 0 {
		for name, err := range failed {
			s.log.Warn("backend not ready", slog.String("backend", name), slog.String("err", err))
		}
		p := problemf(503, typeUnavailable, fmt.Sprintf("not reachable: %v", keys(failed)))
		p.retryAfter = 1
		return p
	}
	ctx.SetContentType("application/json")
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
