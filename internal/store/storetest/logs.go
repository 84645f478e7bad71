package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// logN returns a distinct request log row numbered n, arriving at at(n).
func logN(n int) store.RequestLog {
	return store.RequestLog{
		RequestID:      fmt.Sprintf("req-%d", n),
		Time:           at(n),
		KeyID:          fmt.Sprintf("key_%016x", n%3),
		KeyMasked:      "sk-tg-...abcd",
		KeyName:        "team",
		Endpoint:       "/v1/chat/completions",
		ModelRequested: "gpt-4o",
		ModelServed:    "gpt-4o-2024-08-06",
		Status:         200,
	}
}

// requestIDs returns the RequestIDs of rows in order.
func requestIDs(rows []store.RequestLog) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.RequestID
	}
	return out
}

// diffLog describes how got differs from want, or returns "".
func diffLog(got, want store.RequestLog) string {
	if !got.Time.Equal(want.Time) {
		return fmt.Sprintf("Time: got %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	got.Timeline, want.Timeline = nil, nil // stored apart; see ListAttempts
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

// exerciseLogs checks every store.RequestLogs method.
func exerciseLogs(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := fresh(t)
		full := store.RequestLog{
			RequestID: "req-full", Time: at(1), KeyID: "key_00000000000000aa", KeyMasked: "sk-tg-...wxyz",
			KeyName: "équipe-数据", Endpoint: "/v1/chat/completions", ModelRequested: "gpt-4o", ModelServed: "gpt-4o-mini",
			Channel: "openai-main", Stream: true, Status: 502, ErrorType: "server_error",
			ErrorMessage: "upstream closed the stream early", PromptTokens: 12, CompletionTokens: 34, TotalTokens: 46,
			UsageEstimated: true, TTFB: 1234567 * time.Microsecond, Duration: 3*time.Second + 7*time.Microsecond,
			ClientIP: "2001:db8::1", UserAgent: "openai-python/1.0 🚀",
			Attempts: 3, FailedPhase: "idle", RetryReasons: "#1 a: timeout; #2 b: server_error",
			Fallback: true, Continued: true, Truncated: true,
			Owner: "acme", Group: "research", CachedTokens: 8, CostMicros: 1234, Charged: true,
			UpstreamRequestID: "chatcmpl-up-123", TTFT: 2345678 * time.Microsecond, RequestBytes: 1 << 20,
			ResponseBytes: 98765, FinishReason: "length",
		}
		minimal := store.RequestLog{RequestID: "req-min", Time: at(0)}
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{full, minimal}); err != nil {
			t.Fatalf("InsertRequestLogs: %v", err)
		}
		got, err := s.ListRequestLogs(ctx, store.LogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("ListRequestLogs = %v, want 2 rows", requestIDs(got))
		}
		for i, want := range []store.RequestLog{full, minimal} {
			if d := diffLog(got[i], want); d != "" {
				t.Errorf("row %d: %s", i, d)
			}
		}
	})

	t.Run("InsertEmptyBatch", func(t *testing.T) {
		s := fresh(t)
		for _, rows := range [][]store.RequestLog{nil, {}} {
			if err := s.InsertRequestLogs(ctx, rows); err != nil {
				t.Errorf("InsertRequestLogs(%v) = %v, want nil", rows, err)
			}
		}
	})

	t.Run("InsertIsAtomic", func(t *testing.T) {
		s := fresh(t)
		bad := logN(2)
		bad.Time = time.Time{}
		err := s.InsertRequestLogs(ctx, []store.RequestLog{logN(1), bad, logN(3)})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("InsertRequestLogs with a zero Time = %v, want ErrInvalid", err)
		}
		if got, err := s.ListRequestLogs(ctx, store.LogFilter{}); err != nil || len(got) != 0 {
			t.Errorf("after failed batch ListRequestLogs = %v, %v; want no rows", requestIDs(got), err)
		}
	})

	t.Run("NewestFirst", func(t *testing.T) {
		s := fresh(t)
		tie1, tie2 := logN(5), logN(5)
		tie1.RequestID, tie2.RequestID = "tie-first", "tie-second"
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{logN(3), logN(9), tie1}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{logN(1), tie2}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRequestLogs(ctx, store.LogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"req-9", "tie-second", "tie-first", "req-3", "req-1"}
		if g := requestIDs(got); !equalStrings(g, want) {
			t.Errorf("order = %v, want %v", g, want)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		s := fresh(t)
		var rows []store.RequestLog
		for n := 1; n <= 9; n++ {
			r := logN(n)
			if n == 4 {
				r.Status, r.ModelRequested, r.ModelServed, r.ErrorType = 429, "claude-sonnet", "claude-sonnet-4", "rate_limit_error"
			}
			rows = append(rows, r)
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    store.LogFilter
			want []string
		}{
			{"key id", store.LogFilter{KeyID: fmt.Sprintf("key_%016x", 1)}, []string{"req-7", "req-4", "req-1"}},
			{"model requested", store.LogFilter{Model: "claude-sonnet"}, []string{"req-4"}},
			{"model served", store.LogFilter{Model: "claude-sonnet-4"}, []string{"req-4"}},
			{"status", store.LogFilter{Status: 429}, []string{"req-4"}},
			{"error type", store.LogFilter{ErrorType: "rate_limit_error"}, []string{"req-4"}},
			{"request id", store.LogFilter{RequestID: "req-6"}, []string{"req-6"}},
			{"since is inclusive", store.LogFilter{Since: at(8)}, []string{"req-9", "req-8"}},
			{"until is exclusive", store.LogFilter{Until: at(3)}, []string{"req-2", "req-1"}},
			{"window", store.LogFilter{Since: at(4), Until: at(6)}, []string{"req-5", "req-4"}},
			{"combined", store.LogFilter{KeyID: fmt.Sprintf("key_%016x", 1), Status: 200}, []string{"req-7", "req-1"}},
			{"no match", store.LogFilter{KeyID: "key_nobody"}, nil},
			{"limit keeps newest", store.LogFilter{Limit: 2}, []string{"req-9", "req-8"}},
			{"limit with filter", store.LogFilter{Status: 200, Limit: 3}, []string{"req-9", "req-8", "req-7"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListRequestLogs(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if g := requestIDs(got); !equalStrings(g, tt.want) {
					t.Errorf("ListRequestLogs(%+v) = %v, want %v", tt.f, g, tt.want)
				}
			})
		}
	})

	t.Run("DefaultLimit", func(t *testing.T) {
		s := fresh(t)
		rows := make([]store.RequestLog, store.DefaultLogLimit+20)
		for i := range rows {
			rows[i] = logN(i)
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			limit int
			want  int
		}{
			{"zero", 0, store.DefaultLogLimit},
			{"negative", -1, store.DefaultLogLimit},
			{"above rows", len(rows) + 5, len(rows)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListRequestLogs(ctx, store.LogFilter{Limit: tt.limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != tt.want {
					t.Errorf("Limit %d returned %d rows, want %d", tt.limit, len(got), tt.want)
				}
				if len(got) > 0 && got[0].RequestID != rows[len(rows)-1].RequestID {
					t.Errorf("first row = %s, want newest %s", got[0].RequestID, rows[len(rows)-1].RequestID)
				}
			})
		}
	})
}
