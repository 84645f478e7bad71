package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// BenchmarkInsertRequestLogs measures one batch of 512 typical rows (the
// request log writer's batch) into a file database that already holds
// 50,000 rows, with request IDs that are random or that grow with time as
// the server's do. Reported per row.
func BenchmarkInsertRequestLogs(b *testing.B) {
	for _, order := range []string{"random", "time-ordered"} {
		b.Run(order, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "tollgate.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			seq := 0
			batch := func() []store.RequestLog {
				rows := make([]store.RequestLog, 512)
				for i := range rows {
					seq++
					id := fmt.Sprintf("req_%012x%012x", seq, rand.Uint64()&(1<<48-1))
					if order == "random" {
						id = fmt.Sprintf("req_%024x", rand.Uint64())
					}
					rows[i] = store.RequestLog{
						RequestID: id, Time: time.Now(), KeyID: "key_00000000000000aa",
						KeyMasked: "sk-tg-...abcd", KeyName: "team", Endpoint: "/v1/chat/completions",
						ModelRequested: "gpt-4o", ModelServed: "gpt-4o-2024-08-06", Channel: "openai", Status: 200,
						Stream: true, PromptTokens: 120, CompletionTokens: 340, TotalTokens: 460,
						TTFB: 180 * time.Millisecond, Duration: 2 * time.Second, ClientIP: "203.0.113.7",
						UserAgent: "openai-python/1.0", Attempts: 1, FinishReason: "stop", Charged: true,
					}
				}
				return rows
			}
			for range 100 {
				if err := s.InsertRequestLogs(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				// Fresh rows every batch, as in production (making them
				// costs well under a microsecond per row).
				if err := s.InsertRequestLogs(ctx, batch()); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*512), "ns/row")
		})
	}
}
