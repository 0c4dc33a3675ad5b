// Package testenv gives tests the real services they run against (Redis, PostgreSQL, RabbitMQ), each isolated
// per test. A service that cannot be reached skips the test on a developer's machine and fails it under CI
// (CI=true or ONSALE_TEST_REQUIRE_SERVICES=1), so a missing service never passes unnoticed.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default URLs of the services on a development machine; ONSALE_TEST_* override them.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultAMQPURL     = "amqp://guest:guest@127.0.0.1:5672/"
)

// Required reports whether missing services must fail tests rather than skip them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("ONSALE_TEST_REQUIRE_SERVICES") == "1"
}

// Unique returns a short random name part, for key prefixes, databases and queue names.
func Unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// RedisURL returns the test Redis URL after checking that it answers.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := envOr("ONSALE_TEST_REDIS_URL", DefaultRedisURL)
	reachable(t, "Redis", u, "6379")
	return u
}

// AMQPURL returns the test RabbitMQ URL after checking that it answers. Tests isolate themselves by
// naming their own exchanges and queues with Unique.
func AMQPURL(t testing.TB) string {
	t.Helper()
	u := envOr("ONSALE_TEST_AMQP_URL", DefaultAMQPURL)
	reachable(t, "RabbitMQ", u, "5672")
	return u
}

// Database creates a fresh PostgreSQL database for the test, drops it when the test ends, and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	admin := envOr("ONSALE_TEST_DATABASE_URL", DefaultDatabaseURL)
	reachable(t, "PostgreSQL", admin, "5432")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		missing(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	name := Unique("onsale_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// reachable dials the service's host and port once; it skips or fails the test when nothing answers.
func reachable(t testing.TB, name, rawURL, defPort string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("%s URL %q: %v", name, rawURL, err)
	}
	host := u.Host
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defPort)
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		missing(t, name, err)
		return
	}
	c.Close()
}

func missing(t testing.TB, name string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not reachable: %v (scripts/services.sh starts it)", name, err)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
