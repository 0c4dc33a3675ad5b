package core

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pipePair is a loopback TCP connection: the server end wrapped as Serve wraps it, and the client end.
func pipePair(t testing.TB) (*lazyDeadlineConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := lazyDeadlineListener{Listener: ln}.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return server.(*lazyDeadlineConn), client
}

// readTimesOutAt checks that a Read on c times out no earlier than want and not much later.
func readTimesOutAt(t *testing.T, c net.Conn, want time.Time) {
	t.Helper()
	_, err := c.Read(make([]byte, 1))
	now := time.Now()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a deadline error", err)
	}
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Fatalf("read: %v is no timeout", err)
	}
	if now.Before(want) {
		t.Fatalf("timed out %v early", want.Sub(now))
	}
	if now.Sub(want) > time.Second {
		t.Fatalf("timed out %v late", now.Sub(want))
	}
}

// A later deadline leaves the earlier one armed; when that fires, Read moves it on and still ends at the later one.
func TestLazyDeadlineLaterEndsAtLater(t *testing.T) {
	t.Parallel()
	c, _ := pipePair(t)
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	later := start.Add(250 * time.Millisecond)
	if err := c.SetReadDeadline(later); err != nil {
		t.Fatal(err)
	}
	if !c.armed.Equal(start.Add(50 * time.Millisecond)) {
		t.Fatalf("armed %v, want the earlier deadline kept", c.armed)
	}
	readTimesOutAt(t, c, later)
}

// Data that arrives after the armed deadline but before the asked one is read, not cut off by a timeout.
func TestLazyDeadlineReadsPastEarlyFire(t *testing.T) {
	t.Parallel()
	c, client := pipePair(t)
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(30 * time.Millisecond))
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, _ = client.Write([]byte("x"))
	}()
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || err != nil || b[0] != 'x' {
		t.Fatalf("read %d %q %v", n, b[:n], err)
	}
}

// An earlier deadline replaces a later one at once.
func TestLazyDeadlineEarlierApplies(t *testing.T) {
	t.Parallel()
	c, _ := pipePair(t)
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(10 * time.Second))
	earlier := start.Add(60 * time.Millisecond)
	_ = c.SetReadDeadline(earlier)
	readTimesOutAt(t, c, earlier)
	// and one already past ends the next read at once
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	readTimesOutAt(t, c, time.Now())
}

// Clearing the deadline (zero) means none: a read waits for data past the old one.
func TestLazyDeadlineCleared(t *testing.T) {
	t.Parallel()
	c, client := pipePair(t)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_ = c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, _ = client.Write([]byte("y"))
	}()
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || err != nil {
		t.Fatalf("read %d %v", n, err)
	}
	// SetDeadline sets both at once.
	d := time.Now().Add(40 * time.Millisecond)
	if err := c.SetDeadline(d); err != nil {
		t.Fatal(err)
	}
	readTimesOutAt(t, c, d)
	_ = client.Close()
	_ = c.SetDeadline(time.Time{})
	if _, err := c.Read(b); err != io.EOF {
		t.Fatalf("read after the peer closed: %v", err)
	}
}

// BenchmarkReadDeadlines is the deadline work of one keep-alive request as fasthttp does it (the idle time, then
// the read timeout at the first byte), on a plain connection and on the lazy one.
func BenchmarkReadDeadlines(b *testing.B) {
	for _, lazy := range []bool{false, true} {
		name := "plain"
		if lazy {
			name = "lazy"
		}
		b.Run(name, func(b *testing.B) {
			lc, _ := pipePair(b)
			var c net.Conn = lc
			if !lazy {
				c = lc.Conn
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.SetReadDeadline(time.Now().Add(90 * time.Second)); err != nil {
					b.Fatal(err)
				}
				if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
