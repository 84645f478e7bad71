package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

// TestRedisClientLogsGoToSlog checks that the Redis client's own messages,
// such as a failed dial, reach tollgate's logger as structured warnings
// (not stderr), and that the password of the Redis URL is not in them.
func TestRedisClientLogsGoToSlog(t *testing.T) {
	const password = "redis-password-must-not-leak"
	addr := strings.TrimSuffix(strings.TrimPrefix(closedURL(t), "http://"), "/v1")
	dead := "redis://:" + password + "@" + addr + "/0"
	c, err := config.Parse([]byte(fmt.Sprintf(govConfig, redisLimits(dead, "fail_open"))), t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := app.New(t.Context(), c, app.Options{Version: "test", Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	g := &gateway{app: a, srv: srv}
	secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 1}}) // limits need Redis
	g.mustCall(t, secret, chatBody("sim-chat", "hi", ""), http.StatusOK)

	// The client gives up dialing (and says so) after its own retries,
	// which may outlast the request.
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if out = logs.String(); strings.Contains(out, `"msg":"redis client"`) {
			break
		}
	}
	if !strings.Contains(out, `"msg":"redis client"`) || !strings.Contains(out, "dial") {
		t.Fatalf("no Redis client warning about the failed dial in tollgate's log:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Fatalf("the Redis password reached the log:\n%s", out)
	}
}
