// Package servicetest finds the PostgreSQL and Redis servers that the
// shared-state test suites run against. Locally a suite skips when no
// server is reachable; in CI (the CI environment variable is set) it fails
// instead, so those suites can never silently stop running there.
package servicetest

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// Default addresses, used when the environment names none.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultPostgresURL = "postgres://tollgate:tollgate@127.0.0.1:5432/tollgate_test?sslmode=disable"
)

// RedisURL returns the Redis server for tests: $TOLLGATE_TEST_REDIS_URL,
// else DefaultRedisURL when something listens there.
func RedisURL(t testing.TB) string {
	t.Helper()
	return find(t, "TOLLGATE_TEST_REDIS_URL", DefaultRedisURL, "Redis")
}

// PostgresURL returns the PostgreSQL server for tests:
// $TOLLGATE_TEST_POSTGRES_URL, else DefaultPostgresURL when something
// listens there.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return find(t, "TOLLGATE_TEST_POSTGRES_URL", DefaultPostgresURL, "PostgreSQL")
}

func find(t testing.TB, env, fallback, what string) string {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		raw = fallback
	}
	u, err := url.Parse(raw)
	if err == nil {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", u.Host, 500*time.Millisecond); err == nil {
			_ = c.Close()
			return raw
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not reachable at %s (%v); CI must start it (see .ci/run)", what, u.Redacted(), err)
	}
	t.Skipf("%s is not reachable at %s (%v); set %s to run this suite", what, u.Redacted(), err, env)
	return ""
}
