package core_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// headerOf is a header value that makes a request's header fields about n bytes.
func headerOf(n int) string { return strings.Repeat("a", n-len("X-Big: \r\n")) }

// Requests with up to 16 KiB of header fields are served; more is 431 too-large, whether or not the server's read
// buffer holds them.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Go's client adds Host, User-Agent and Accept-Encoding (about 80 bytes).
	if r := e.do("GET", "/healthz", nil, "X-Big", headerOf(16<<10-200)); r.status != 200 {
		t.Fatalf("16 KiB of headers: %v", r)
	}
	problem(t, "just over 16 KiB", e.do("GET", "/healthz", nil, "X-Big", headerOf(16<<10+100)), 431, "too-large")
	problem(t, "64 KiB", e.do("GET", "/healthz", nil, "X-Big", headerOf(64<<10)), 431, "too-large")

	// A raw client sending far more than the buffer holds reads the answer, not a reset.
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+headerOf(200<<10)+"\r\n\r\n")
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer res.Body.Close()
	var p map[string]any
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 431 || p["type"] != "too-large" ||
		res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("200 KiB of headers: %d %v %v", res.StatusCode, p, err)
	}
}
