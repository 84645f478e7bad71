package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redact"
)

// redisLogger sends the Redis client's own messages (failed dials, pool
// trouble) to tollgate's logger as warnings, instead of the client's
// default of printing them to stderr. The password of the Redis URL is
// replaced wherever it would appear.
type redisLogger struct {
	log      *slog.Logger
	password string
}

// Printf implements the Redis client's logging interface.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if l.password != "" {
		msg = strings.ReplaceAll(msg, l.password, redact.Placeholder)
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", msg))
}

// useRedisLogger routes the Redis client's messages to log. The client
// keeps one logger per process, so the App built last decides.
func useRedisLogger(log *slog.Logger, opts *redis.Options) {
	redis.SetLogger(redisLogger{log: log, password: opts.Password})
}
