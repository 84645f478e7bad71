package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// BenchmarkInsertRequestLogs measures one batch of 100 typical rows, the
// request log writer's unit of work.
func BenchmarkInsertRequestLogs(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, schemaDSN(b))
	rows := make([]store.RequestLog, 100)
	for i := range rows {
		rows[i] = store.RequestLog{
			RequestID: fmt.Sprintf("req-%d", i), Time: time.Now(), KeyID: "key_00000000000000aa",
			KeyMasked: "sk-tg-...abcd", KeyName: "team", Endpoint: "/v1/chat/completions",
			ModelRequested: "gpt-4o", ModelServed: "gpt-4o-2024-08-06", Channel: "openai", Status: 200,
			PromptTokens: 120, CompletionTokens: 340, TotalTokens: 460, TTFB: 180 * time.Millisecond,
			Duration: 2 * time.Second, ClientIP: "203.0.113.7", UserAgent: "openai-python/1.0", Attempts: 1,
			Owner: "acme", Group: "research", CostMicros: 4100, Charged: true,
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
}
