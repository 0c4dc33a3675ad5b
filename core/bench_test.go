package core_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	invmem "github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/inventory/redisstore"
)

// The HTTP benchmarks load a server over loopback with a fasthttp client and, in the same run, a bare fasthttp
// handler answering "ok", so the figure that matters is the ratio (throughput relative to the bare handler on the
// same machine at the same moment), with the p99 latency beside it. scripts/bench-http.sh runs them.
//
//	go test -run '^$' -bench 'HTTP' -benchtime 1x ./core
//
// ONSALE_BENCH_DURATION (default 2s) is the length of each of the four alternating phases (bare, target, bare,
// target); ONSALE_BENCH_CONNS (default 64) the concurrent connections. ONSALE_BENCH_TARGET_PROFILE names a file
// for CPU profiles of the target phases alone (the bare phases and the setup left out).

func benchDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("ONSALE_BENCH_DURATION")); err == nil && d > 0 {
		return d
	}
	return 2 * time.Second
}

func benchConns() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("ONSALE_BENCH_CONNS"), &n); err == nil && n > 0 {
		return n
	}
	return 64
}

// loadResult is what one load phase measured.
type loadResult struct {
	n, errors int64
	elapsed   time.Duration
	hist      *hdrhistogram.Histogram // microseconds
}

// load sends requests over conns connections for d; mk builds worker i's request, want is the expected status.
func load(addr string, conns int, d time.Duration, want int, mk func(i int, req *fasthttp.Request)) loadResult {
	client := &fasthttp.HostClient{Addr: addr, MaxConns: conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	res := loadResult{hist: hdrhistogram.New(1, 10_000_000, 3)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	var n, errs atomic.Int64
	for i := range conns {
		wg.Go(func() {
			h := hdrhistogram.New(1, 10_000_000, 3)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			mk(i, req)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != want {
					errs.Add(1)
					continue
				}
				_ = h.RecordValue(time.Since(t0).Microseconds())
				n.Add(1)
			}
			mu.Lock()
			res.hist.Merge(h)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n, res.errors = n.Load(), errs.Load()
	return res
}

// bareServer is the reference: fasthttp answering "ok" with no work at all.
func bareServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// phaseProfile writes a CPU profile of each target phase, when ONSALE_BENCH_TARGET_PROFILE names a file: NAME.1 and
// NAME.2 (go tool pprof merges them when given both).
type phaseProfile struct {
	b    *testing.B
	name string
	n    int
	f    *os.File
}

func targetProfile(b *testing.B) *phaseProfile {
	if name := os.Getenv("ONSALE_BENCH_TARGET_PROFILE"); name != "" {
		return &phaseProfile{b: b, name: name}
	}
	return nil
}

func (p *phaseProfile) start() {
	if p == nil {
		return
	}
	p.n++
	f, err := os.Create(fmt.Sprintf("%s.%d", p.name, p.n))
	if err != nil {
		p.b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		p.b.Fatal(err)
	}
	p.f = f
}

func (p *phaseProfile) stop() {
	if p == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := p.f.Close(); err != nil {
		p.b.Fatal(err)
	}
}

// cpuTime is the process's CPU time so far (user and system, all threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// compare alternates bare and target phases and reports throughput, the ratio and p99 latencies, and the process's
// CPU time per request in each (client and server, not Redis): on a shared machine wall-clock throughput varies
// with the neighbours' load, the CPU a request costs much less, and its excess over the bare one is the server's
// own work per request (the client's is nearly the same in both).
//
// backendCPU, when given, reads a backend's CPU time so far (Redis's), reported per target request beside.
func compare(b *testing.B, bare, target string, want int, mk func(i int, req *fasthttp.Request), backendCPU ...func() time.Duration) {
	d, conns := benchDuration(), benchConns()
	okReq := func(_ int, req *fasthttp.Request) { req.SetRequestURI("http://" + bare + "/") }
	var bareN, targetN int64
	var bareT, targetT time.Duration
	bareH, targetH := hdrhistogram.New(1, 10_000_000, 3), hdrhistogram.New(1, 10_000_000, 3)
	var ms0, ms1 runtime.MemStats
	var mallocs uint64
	var bareCPU, targetCPU, backCPU time.Duration
	backend := func() time.Duration {
		var t time.Duration
		for _, f := range backendCPU {
			t += f()
		}
		return t
	}
	prof := targetProfile(b)
	b.ResetTimer()
	for range 2 {
		c0 := cpuTime()
		r := load(bare, conns, d, 200, okReq)
		bareCPU += cpuTime() - c0
		bareN, bareT = bareN+r.n, bareT+r.elapsed
		bareH.Merge(r.hist)
		runtime.ReadMemStats(&ms0)
		prof.start()
		c0, bc0 := cpuTime(), backend()
		r = load(target, conns, d, want, mk)
		targetCPU += cpuTime() - c0
		backCPU += backend() - bc0
		prof.stop()
		runtime.ReadMemStats(&ms1)
		mallocs += ms1.Mallocs - ms0.Mallocs
		if r.errors > 0 {
			b.Fatalf("%d requests did not answer %d", r.errors, want)
		}
		targetN, targetT = targetN+r.n, targetT+r.elapsed
		targetH.Merge(r.hist)
	}
	b.StopTimer()
	bareRPS, targetRPS := float64(bareN)/bareT.Seconds(), float64(targetN)/targetT.Seconds()
	b.ReportMetric(targetRPS, "req/s")
	b.ReportMetric(bareRPS, "bare-req/s")
	b.ReportMetric(targetRPS/bareRPS, "ratio")
	b.ReportMetric(float64(targetH.ValueAtQuantile(99))/1000, "p99-ms")
	b.ReportMetric(float64(bareH.ValueAtQuantile(99))/1000, "bare-p99-ms")
	b.ReportMetric(float64(mallocs)/float64(targetN), "allocs/req(client+server)")
	b.ReportMetric(float64(targetCPU.Microseconds())/float64(targetN), "cpu-µs/req")
	b.ReportMetric(float64(bareCPU.Microseconds())/float64(bareN), "bare-cpu-µs/req")
	if len(backendCPU) > 0 {
		b.ReportMetric(float64(backCPU.Microseconds())/float64(targetN), "backend-cpu-µs/req")
	}
}

// holdRequest makes worker i's hold request: one general-admission unit with its own fan's access token.
func holdRequest(base string, tokens []string) func(i int, req *fasthttp.Request) {
	return func(i int, req *fasthttp.Request) {
		req.Header.SetMethod("POST")
		req.SetRequestURI(base + "/v1/events/bench/holds")
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
		req.SetBodyString(`{"items":[{"section":"GA","quantity":1}]}`)
	}
}

// benchEvent has room for every hold a benchmark makes: the largest general admission and per-fan limit allowed.
func benchEvent() map[string]any {
	d := eventDef("bench", 10_000_000, 10, 10_000_000)
	d["hold_ttl_s"] = 3600
	return d
}

func admitFans(e *env, n int) []string {
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.admit("bench", fmt.Sprintf("fan-%d", i))
	}
	return tokens
}

// BenchmarkHTTPHold: POST /v1/events/{event}/holds on the embedded inventory, against the bare handler.
func BenchmarkHTTPHold(b *testing.B) {
	bare := bareServer(b)
	e := setup(b, func(o *options) { o.cfg.Loops = false })
	e.createEvent(benchEvent())
	compare(b, bare, e.base[len("http://"):], 201, holdRequest(e.base, admitFans(e, benchConns())))
}

// BenchmarkHTTPHoldRedis: the same on the Redis inventory (batched pipelines), when Redis is reachable.
func BenchmarkHTTPHoldRedis(b *testing.B) {
	url := testenv.RedisURL(b)
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	client := redis.NewClient(opts)
	prefix := testenv.Unique("bench")
	b.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		_ = client.Close()
	})
	st, err := redisstore.New(client, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	bare := bareServer(b)
	e := setup(b, func(o *options) { o.cfg.Loops = false; o.inv = st })
	e.createEvent(benchEvent())
	compare(b, bare, e.base[len("http://"):], 201, holdRequest(e.base, admitFans(e, benchConns())), redisCPU(b, client))
	if n, sum := histogramOf(b, prometheus.DefaultGatherer, "onsale_inventory_hold_batch_size"); n > 0 {
		b.ReportMetric(sum/float64(n), "holds/roundtrip")
	}
}

// histogramOf returns a histogram's count and sum from g (zeros when it has none).
func histogramOf(b *testing.B, g prometheus.Gatherer, name string) (uint64, float64) {
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

// redisCPU reads the Redis server's CPU time so far (user and system, from INFO cpu).
func redisCPU(b *testing.B, c *redis.Client) func() time.Duration {
	return func() time.Duration {
		info, err := c.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var t float64
		for line := range strings.Lines(info) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_sys" || k == "used_cpu_user" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("INFO cpu %s: %v", line, err)
				}
				t += f
			}
		}
		return time.Duration(t * float64(time.Second))
	}
}

// BenchmarkHTTPQueueStatus: GET /v1/events/{event}/queue (the most frequent request of an on-sale), against the
// bare handler. The fans wait (the event's wave has not started), so every poll is a waiting status.
func BenchmarkHTTPQueueStatus(b *testing.B) {
	bare := bareServer(b)
	e := setup(b, func(o *options) { o.cfg.Loops = false })
	def := benchEvent()
	def["waves"].([]any)[0].(map[string]any)["starts_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.createEvent(def)
	tokens := make([]string, benchConns())
	for i := range tokens {
		r := e.do("POST", "/v1/events/bench/queue", map[string]any{"fan": fmt.Sprintf("fan-%d", i)})
		if r.status != 201 {
			b.Fatalf("join: %v", r)
		}
		tokens[i] = r.str("queue_token")
	}
	compare(b, bare, e.base[len("http://"):], 200, func(i int, req *fasthttp.Request) {
		req.SetRequestURI(e.base + "/v1/events/bench/queue")
		req.Header.Set("Queue-Token", tokens[i%len(tokens)])
	})
}

// BenchmarkHoldHandler is the server's own cost of a hold, with no network: the handler on a reused request
// context, on the embedded inventory.
func BenchmarkHoldHandler(b *testing.B) {
	e := setup(b, func(o *options) { o.cfg.Loops = false })
	e.createEvent(benchEvent())
	tok := e.admit("bench", "fan")
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	holdRequest("http://x", []string{tok})(0, &ctx.Request)
	serveLoop(b, h, &ctx, 201)
}

// cannedHolds answers every hold with one canned hold at once, so a benchmark measures only the server's work.
type cannedHolds struct {
	inventory.Store
	hold inventory.Hold
}

func (c *cannedHolds) Hold(_ context.Context, req inventory.HoldRequest) (inventory.Hold, error) {
	h := c.hold
	h.Event, h.Fan = req.Event, req.Fan
	return h, nil
}

// BenchmarkHoldHandlerOwn is BenchmarkHoldHandler with an inventory that answers at once: the HTTP side's own
// cost per hold (routing, token, body, response, metrics), with nothing of the store's.
func BenchmarkHoldHandlerOwn(b *testing.B) {
	canned := &cannedHolds{Store: invmem.New(invmem.Options{})}
	e := setup(b, func(o *options) { o.cfg.Loops = false; o.inv = canned })
	e.createEvent(benchEvent())
	tok := e.admit("bench", "fan")
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	holdRequest("http://x", []string{tok})(0, &ctx.Request)
	h(&ctx)
	if ctx.Response.StatusCode() != 201 {
		b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	held, err := canned.Store.Hold(context.Background(), inventory.HoldRequest{Event: "bench", Fan: "fan",
		Items: []inventory.Item{{Section: "GA", Quantity: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	canned.hold = held
	ctx.Response.Reset()
	serveLoop(b, h, &ctx, 201)
}

// serveLoop runs h on the one request in ctx b.N times, each answer to have status.
func serveLoop(b *testing.B, h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx, status int) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h(ctx)
		if ctx.Response.StatusCode() != status {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		ctx.Response.Reset()
	}
}

// BenchmarkStatusHandler is the server's own cost of a queue status poll, with no network.
func BenchmarkStatusHandler(b *testing.B) {
	e := setup(b, func(o *options) { o.cfg.Loops = false })
	def := benchEvent()
	def["waves"].([]any)[0].(map[string]any)["starts_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.createEvent(def)
	r := e.do("POST", "/v1/events/bench/queue", map[string]any{"fan": "fan"})
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/v1/events/bench/queue")
	ctx.Request.Header.Set("Queue-Token", r.str("queue_token"))
	serveLoop(b, h, &ctx, 200)
}
