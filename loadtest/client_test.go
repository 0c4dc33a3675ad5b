package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientSendsHeadersAndReadsProblems(t *testing.T) {
	t.Parallel()
	seen := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/v1/ok":
			seen <- r.Clone(context.Background())
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			w.Write([]byte(`{"x":1}`))
		case "/base/v1/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			w.Write([]byte(`{"type":"https://onsale.example/problems/rate-limited","title":"slow down","status":429}`))
		case "/base/v1/plain":
			w.WriteHeader(502)
			w.Write([]byte("bad gateway"))
		case "/base/v1/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
	}))
	defer srv.Close()
	rec := newRecorder()
	c, err := newClient(srv.URL+"/base/", 4, 300*time.Millisecond, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.hc.CloseIdleConnections()

	r := c.do(call{ep: EpHold, method: "POST", path: "/v1/ok", body: []byte(`{}`), auth: "tok", queueToken: "q", idemKey: "k1"})
	if !r.ok() || r.status != 201 || string(r.body) != `{"x":1}` || r.problem != "" {
		t.Fatalf("ok reply %+v", r)
	}
	req := <-seen
	for h, want := range map[string]string{"Authorization": "Bearer tok", "Queue-Token": "q", "Idempotency-Key": "k1", "Content-Type": "application/json"} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}

	r = c.do(call{ep: EpHold, method: "POST", path: "/v1/problem"})
	if r.status != 429 || r.problem != "rate-limited" || r.retryAfter != 3*time.Second || !r.retryable() {
		t.Fatalf("problem reply %+v", r)
	}
	if got := backoff(0, r.retryAfter, 0.9); got != 3*time.Second {
		t.Fatalf("backoff ignores Retry-After: %v", got)
	}
	r = c.do(call{ep: EpPoll, method: "GET", path: "/v1/plain"})
	if r.problem != "http-502" || !r.retryable() {
		t.Fatalf("plain 502 %+v", r)
	}
	r = c.do(call{ep: EpPoll, method: "GET", path: "/v1/slow"})
	if r.status != 0 || r.problem != ProblemTimeout || !r.retryable() {
		t.Fatalf("slow reply %+v", r)
	}

	eps := map[Endpoint]EndpointReport{}
	for _, e := range rec.endpointReports(time.Second) {
		eps[e.Endpoint] = e
	}
	if h := eps[EpHold]; h.Requests != 2 || h.Errors != 1 || h.Problems["rate-limited"] != 1 || h.Statuses[201] != 1 {
		t.Errorf("hold recorded %+v", h)
	}
	if p := eps[EpPoll]; p.Requests != 2 || p.Errors != 2 || p.Problems[ProblemTimeout] != 1 || p.Statuses[0] != 1 {
		t.Errorf("poll recorded %+v", p)
	}
}

func TestDoRetryStopsAtAnAnswer(t *testing.T) {
	t.Parallel()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	c, _ := newClient(srv.URL, 1, time.Second, newRecorder())
	defer c.hc.CloseIdleConnections()
	if r := c.doRetry(context.Background(), call{ep: EpAdminStats, method: "GET", path: "/"}, 5); r.status != 200 || calls != 3 {
		t.Fatalf("reply %+v after %d calls", r, calls)
	}
	calls = 0
	if r := c.doRetry(context.Background(), call{ep: EpAdminStats, method: "GET", path: "/"}, 1); r.status != 503 || calls != 2 {
		t.Fatalf("reply %+v after %d calls, want 503 after 2", r, calls)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for a := range 10 {
		d := backoff(a, 0, 0)
		if d < prev || d > 5*time.Second {
			t.Fatalf("attempt %d: %v after %v", a, d, prev)
		}
		prev = d
	}
	if backoff(0, 0, 0.999) >= 150*time.Millisecond+time.Millisecond || backoff(0, 0, 0) != 100*time.Millisecond {
		t.Fatal("jitter out of range")
	}
}

func TestReadEvents(t *testing.T) {
	t.Parallel()
	stream := "event: status\ndata: {\"state\":\"waiting\",\"position\":3}\n\n" +
		": comment\n\nevent: status\ndata: {\"state\":\"admitted\",\n" +
		"data: \"access_token\":\"tok\"}\n\n"
	var states []string
	st, ok := readEvents(strings.NewReader(stream), func(data []byte) (queueStatus, bool) {
		var s queueStatus
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		states = append(states, s.State)
		return s, s.State == "admitted"
	})
	if !ok || st.AccessToken != "tok" || strings.Join(states, ",") != "waiting,admitted" {
		t.Fatalf("got %+v %v %v", st, ok, states)
	}
	if _, ok := readEvents(strings.NewReader("data: {\"state\":\"waiting\"}\n\n"), func([]byte) (queueStatus, bool) { return queueStatus{}, false }); ok {
		t.Fatal("a stream that ended waiting reported an end")
	}
}

func TestSplitSeat(t *testing.T) {
	t.Parallel()
	for id, want := range map[string][3]any{
		"A-1-5":          {"A", "1", 5},
		"BALC-LEFT-B-12": {"BALC-LEFT", "B", 12},
	} {
		s, r, n, ok := splitSeat(id)
		if !ok || s != want[0] || r != want[1] || n != want[2] {
			t.Errorf("splitSeat(%q) = %q %q %d %v", id, s, r, n, ok)
		}
	}
	for _, bad := range []string{"", "A", "A-1", "A-1-x", "-1-2", "A--2"} {
		if _, _, _, ok := splitSeat(bad); ok {
			t.Errorf("splitSeat(%q) accepted", bad)
		}
	}
}

func TestSeatMapPicksFreeNeighbours(t *testing.T) {
	t.Parallel()
	m := newSeatMap([]SectionSpec{{ID: "A", Kind: "seated", Rows: []RowSpec{{Row: "1", Seats: 4}}}})
	f := &fan{rng: 7}
	m.mark([]string{"A-1-2"}, true)
	for range 20 {
		seats := m.pick(f, "A", 2)
		if len(seats) != 2 || seats[0] != "A-1-3" || seats[1] != "A-1-4" {
			t.Fatalf("picked %v, want the only free pair A-1-3, A-1-4", seats)
		}
	}
	m.mark([]string{"A-1-4"}, true)
	if seats := m.pick(f, "A", 2); seats != nil {
		t.Fatalf("picked %v with no free pair", seats)
	}
	if seats := m.pick(f, "GA", 1); seats != nil {
		t.Fatalf("picked %v in an unknown section", seats)
	}
}
