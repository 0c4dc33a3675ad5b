package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// onsale loadtest's fasthttp client: the idle-connection cleaner outlives its last connection by up to
		// 30 s, and the dialer's address cache cleaner lives as long as the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		// pgx and go-redis close their pools' background goroutines asynchronously.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction("github.com/jackc/puddle/v2.(*Pool[...]).backgroundHealthCheck"),
	)
}

// testWriter sends a server's log lines to the test log (only shown on failure or -v).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// started is a running `onsale serve`.
type started struct {
	base, admin string
}

// startServe runs `onsale serve` in-process on 127.0.0.1:0 with the given environment, and stops it (checking a
// clean shutdown) when the test ends.
func startServe(t *testing.T, env map[string]string) started {
	t.Helper()
	s, stop := serveUntil(t, env)
	t.Cleanup(stop)
	return s
}

// serveUntil runs `onsale serve` as startServe does, until stop (which checks the clean shutdown; call it once).
func serveUntil(t *testing.T, env map[string]string) (started, func()) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--log-level", "warn"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, testWriter{t}, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
	return started{base: "http://" + addr, admin: cfg.AdminToken}, stop
}

// realEnv is the environment of a serve on this machine's Redis, PostgreSQL and RabbitMQ, isolated by a fresh
// database and a unique key/queue prefix, which it removes when the test ends.
func realEnv(t *testing.T) map[string]string {
	t.Helper()
	redisURL, amqpURL, dbURL := testenv.RedisURL(t), testenv.AMQPURL(t), testenv.Database(t)
	prefix := testenv.Unique("e2e")
	t.Cleanup(func() { // runs after the server stopped (cleanups run last-registered first)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if opts, err := redis.ParseURL(redisURL); err == nil {
			c := redis.NewClient(opts)
			iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			for len(keys) > 0 {
				n := min(len(keys), 500)
				c.Del(ctx, keys[:n]...)
				keys = keys[n:]
			}
			_ = c.Close()
		}
		if err := deleteTopology(amqpURL, prefix); err != nil {
			t.Logf("delete RabbitMQ topology %s: %v", prefix, err)
		}
	})
	return map[string]string{"ONSALE_REDIS_URL": redisURL, "ONSALE_DATABASE_URL": dbURL, "ONSALE_AMQP_URL": amqpURL,
		"ONSALE_PREFIX": prefix, "ONSALE_JOIN_RATE_PER_IP": "0", "ONSALE_MAX_CONNS_PER_IP": "0", "ONSALE_ADMIN_TOKEN": "admin-" + prefix}
}

// deleteTopology removes the queues and exchanges a settlement declared under prefix.
func deleteTopology(amqpURL, prefix string) error {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	var errs []error
	for _, q := range []settlement.Queue{settlement.PaymentsQueue, settlement.BookingsQueue} {
		for _, suffix := range []string{"", ".retry", ".parked"} {
			if _, err := ch.QueueDelete(prefix+"."+q.Name+suffix, false, false, false); err != nil {
				return err // the channel is closed after an error
			}
		}
	}
	for _, x := range []string{"events", "dlx"} {
		errs = append(errs, ch.ExchangeDelete(prefix+"."+x, false, false))
	}
	return errors.Join(errs...)
}

func embeddedEnv() map[string]string {
	return map[string]string{"ONSALE_JOIN_RATE_PER_IP": "0", "ONSALE_MAX_CONNS_PER_IP": "0", "ONSALE_ADMIN_TOKEN": "admin-embedded"}
}

func TestCrowdEmbedded(t *testing.T) {
	t.Parallel()
	crowdTest(t, startServe(t, embeddedEnv()))
}

func TestCrowdRealBackends(t *testing.T) {
	t.Parallel()
	crowdTest(t, startServe(t, realEnv(t)))
}

// crowdTest sends a crowd several times the capacity through queue → hold → checkout → paid, then checks the
// invariants: nothing sold twice, sold ≤ capacity, and the organizer's stats agree with the paid orders.
func crowdTest(t *testing.T, s started) {
	const (
		fans     = 150
		ga       = 60
		rows     = 2
		perRow   = 10
		capacity = ga + rows*perRow
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := &crowd{base: s.base, client: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}}
	defer c.client.CloseIdleConnections()
	event := "crowd"
	if st, body, err := c.call(ctx, "POST", "/v1/admin/events", sampleEvent(event, ga, rows, perRow, 60000, 100),
		"Authorization", "Bearer "+s.admin); err != nil || st != 201 {
		t.Fatalf("create event: %d %s %v", st, body, err)
	}
	<-c.run(ctx, event, fans, 300*time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("the crowd did not finish in time: joined %d, admitted %d, holds %d, paid %d, declined %d, left %d, errors %d (%s)",
			c.joined.Load(), c.admitted.Load(), c.holds.Load(), c.paid.Load(), c.failed.Load(), c.gaveUp.Load(), c.errors.Load(), c.firstErr)
	}
	if n := c.errors.Load(); n > 0 {
		t.Errorf("%d fans hit an unexpected answer, first %s", n, c.firstErr)
	}

	// Every paid order, read back through the API, holds seats nobody else holds.
	seats := map[string]string{}
	units, revenue := 0, int64(0)
	for _, o := range c.orders {
		st, body, err := c.call(ctx, "GET", "/v1/orders/"+o.ID, nil, "Authorization", "Bearer "+o.access)
		var got paidOrder
		if err != nil || st != 200 || json.Unmarshal(body, &got) != nil || got.Status != "paid" {
			t.Fatalf("order %s: %d %s %v", o.ID, st, body, err)
		}
		for _, seat := range got.Seats {
			if prev, dup := seats[seat]; dup {
				t.Errorf("seat %s sold to orders %s and %s", seat, prev, o.ID)
			}
			seats[seat] = o.ID
		}
		for _, it := range got.Items {
			units += it.Quantity
		}
		revenue += got.Total.Amount
	}
	var stats struct {
		Sold, Held, Available, Withheld, Capacity int
		Revenue                                   struct{ Amount int64 }
		Sections                                  []struct {
			ID                                        string
			Capacity, Available, Held, Sold, Withheld int
		}
	}
	// Declined payments release their holds asynchronously; wait until nothing is held any more.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, body, err := c.call(ctx, "GET", "/v1/admin/events/"+event+"/stats", nil, "Authorization", "Bearer "+s.admin)
		if err != nil || st != 200 || json.Unmarshal(body, &stats) != nil {
			t.Fatalf("stats: %d %s %v", st, body, err)
		}
		if stats.Held == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("crowd of %d: %d paid orders, %d units sold of %d, %d declined, %d left without tickets",
		fans, len(c.orders), stats.Sold, capacity, c.failed.Load(), c.gaveUp.Load())
	switch {
	case stats.Capacity != capacity:
		t.Errorf("capacity %d, want %d", stats.Capacity, capacity)
	case stats.Sold > capacity:
		t.Errorf("sold %d > capacity %d", stats.Sold, capacity)
	case stats.Sold != units:
		t.Errorf("stats say %d sold, paid orders hold %d units", stats.Sold, units)
	case stats.Revenue.Amount != revenue:
		t.Errorf("stats say revenue %d, paid orders total %d", stats.Revenue.Amount, revenue)
	case stats.Sold+stats.Held+stats.Available+stats.Withheld != capacity:
		t.Errorf("counters do not add up: %+v", stats)
	case stats.Sold < capacity*9/10:
		t.Errorf("a crowd of %d bought only %d of %d units", fans, stats.Sold, capacity)
	}
	for _, sec := range stats.Sections {
		if sec.Sold+sec.Held+sec.Available+sec.Withheld != sec.Capacity {
			t.Errorf("section %s counters do not add up: %+v", sec.ID, sec)
		}
	}
	seated := 0
	for seat := range seats {
		if strings.HasPrefix(seat, "A-") {
			seated++
		}
	}
	for _, sec := range stats.Sections {
		if sec.ID == "A" && sec.Sold != seated {
			t.Errorf("section A sold %d, paid orders hold %d of its seats", sec.Sold, seated)
		}
	}
}

// sharedDir finds the project's shared directory (the contract checker): ../shared beside the repository root,
// or ONSALE_SHARED_DIR.
func sharedDir(t *testing.T) string {
	t.Helper()
	var candidates []string
	if d := os.Getenv("ONSALE_SHARED_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		root := strings.TrimSpace(string(out))
		candidates = append(candidates, filepath.Join(root, "..", "shared"), filepath.Join(root, "shared"))
	}
	if wd, err := os.Getwd(); err == nil { // cmd/onsale → repository root
		root := filepath.Join(wd, "..", "..")
		candidates = append(candidates, filepath.Join(root, "..", "shared"), filepath.Join(root, "shared"))
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "contract", "main.go")); err == nil {
			return d
		}
	}
	// The walk of the project's own (contract_test.go) always runs; the shared checker is an extra where a
	// checkout has it beside it.
	t.Skip("the shared contract checker is not found (looked in " + strings.Join(candidates, ", ") + ")")
	return ""
}

var contractResult = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// runContract runs the official contract checker against a server and requires it to pass entirely.
func runContract(t *testing.T, s started) {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "contract")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "-C", dir, "run", ".", "-base", s.base, "-admin", s.admin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	m := contractResult.FindStringSubmatch(out.String())
	if m == nil || m[2] != "0" || m[1] == "0" {
		t.Fatalf("contract checker: %v\n%s", err, out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("contract checker: %v", err)
	}
	t.Logf("contract: %s", m[0])
}

func TestContractEmbedded(t *testing.T) {
	t.Parallel()
	s := startServe(t, embeddedEnv())
	walkContract(t, s)
	t.Run("shared checker", func(t *testing.T) { runContract(t, s) })
}

func TestContractRealBackends(t *testing.T) {
	t.Parallel()
	s := startServe(t, realEnv(t))
	walkContract(t, s)
	t.Run("shared checker", func(t *testing.T) { runContract(t, s) })
}

// TestShutdownFinishesInFlight checks a graceful stop: a stream in progress ends, and serve returns cleanly.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	env := embeddedEnv()
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--log-level", "warn"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, testWriter{t}, func(addr string) { ready <- addr }) }()
	base := "http://" + <-ready
	c := &crowd{base: base, client: &http.Client{Timeout: 20 * time.Second}}
	defer c.client.CloseIdleConnections()
	ev := sampleEvent("stop", 5, 1, 5, 60, 1)
	ev["waves"].([]any)[0].(map[string]any)["starts_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339) // a pre-queue: never admitted
	if st, body, err := c.call(ctx, "POST", "/v1/admin/events", ev, "Authorization", "Bearer "+cfg.AdminToken); err != nil || st != 201 {
		t.Fatalf("create: %d %s %v", st, body, err)
	}
	_, body, _ := c.call(ctx, "POST", "/v1/events/stop/queue", map[string]string{"fan": "f"})
	var tk struct {
		QueueToken string `json:"queue_token"`
	}
	_ = json.Unmarshal(body, &tk)
	res, err := c.client.Get(base + "/v1/events/stop/queue/stream?token=" + tk.QueueToken)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", res, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(io.Discard, res.Body); res.Body.Close() })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop with a stream open")
	}
	wg.Wait()
}
