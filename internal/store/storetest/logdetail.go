package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// exerciseAttempts checks that attempts are written with their row, in
// the same transaction, and read back by request id.
func exerciseAttempts(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := fresh(t)
		r := logN(1)
		r.Timeline = []store.Attempt{
			{N: 1, Channel: "primary", Model: "gpt-4o", Status: 429, Class: "rate_limit",
				Error: "upstream answered 429 · ünïcode", Phase: "", RetryReason: "failover after rate_limit",
				Started: at(1), Duration: 1500 * time.Microsecond, TTFB: 1400 * time.Microsecond},
			{N: 2, Channel: "backup", Model: "gpt-4o", Status: 0, Class: "timeout", Error: "timed out",
				Phase: "first_token", RetryReason: "fallback after timeout", Started: at(2), Duration: time.Second, TTFB: 0},
			{N: 3, Channel: "backup", Model: "gpt-4o-mini", Status: 200, Started: at(3),
				Duration: 2*time.Second + 3*time.Microsecond, TTFB: 250 * time.Millisecond},
		}
		other := logN(2)
		other.Timeline = []store.Attempt{{N: 1, Channel: "primary", Status: 200, Started: at(2)}}
		none := logN(3)
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{r, other, none}); err != nil {
			t.Fatalf("InsertRequestLogs: %v", err)
		}
		tests := []struct {
			name      string
			requestID string
			want      []store.Attempt
		}{
			{"three attempts", r.RequestID, withRequestID(r.RequestID, r.Timeline)},
			{"one attempt", other.RequestID, withRequestID(other.RequestID, other.Timeline)},
			{"no attempts", none.RequestID, nil},
			{"unknown request", "req-nobody", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListAttempts(ctx, tt.requestID)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("ListAttempts(%s) = %d attempts, want %d: %+v", tt.requestID, len(got), len(tt.want), got)
				}
				for i := range got {
					if !got[i].Started.Equal(tt.want[i].Started) {
						t.Errorf("attempt %d Started = %v, want %v", i, got[i].Started, tt.want[i].Started)
					}
					g, w := got[i], tt.want[i]
					g.Started, w.Started = time.Time{}, time.Time{}
					if !reflect.DeepEqual(g, w) {
						t.Errorf("attempt %d = %+v, want %+v", i, g, w)
					}
				}
			})
		}
		rows, err := s.ListRequestLogs(ctx, store.LogFilter{RequestID: r.RequestID})
		if err != nil || len(rows) != 1 || rows[0].Timeline != nil {
			t.Errorf("ListRequestLogs = %+v, %v; want one row without a Timeline", rows, err)
		}
	})

	t.Run("AtomicWithRows", func(t *testing.T) {
		s := fresh(t)
		good := logN(1)
		good.Timeline = []store.Attempt{{N: 1, Channel: "primary", Started: at(1)}}
		bad := logN(2)
		bad.Time = time.Time{}
		err := s.InsertRequestLogs(ctx, []store.RequestLog{good, bad})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("InsertRequestLogs with a zero Time = %v, want ErrInvalid", err)
		}
		if got, err := s.ListAttempts(ctx, good.RequestID); err != nil || len(got) != 0 {
			t.Errorf("after failed batch ListAttempts = %+v, %v; want none", got, err)
		}
	})
}

// withRequestID returns a copy of as with RequestID set.
func withRequestID(id string, as []store.Attempt) []store.Attempt {
	out := make([]store.Attempt, len(as))
	for i, a := range as {
		a.RequestID = id
		out[i] = a
	}
	return out
}

// exerciseUsage checks the sums per key, model, group and day.
func exerciseUsage(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := fresh(t)
	day := 24 * time.Hour
	mk := func(id string, tm time.Time, key, model, group string, status int, p, c, cached int64, cost store.Money, charged bool) store.RequestLog {
		return store.RequestLog{RequestID: id, Time: tm, KeyID: key, ModelRequested: model, Group: group, Status: status,
			PromptTokens: p, CompletionTokens: c, TotalTokens: p + c, CachedTokens: cached, CostMicros: cost, Charged: charged}
	}
	d0 := time.Date(2030, 1, 2, 23, 59, 59, 0, time.UTC)
	rows := []store.RequestLog{
		mk("a", d0, "key_a", "gpt-4o", "research", 200, 10, 20, 5, 100, true),
		mk("b", d0.Add(2*time.Second), "key_a", "gpt-4o", "research", 200, 1, 2, 0, 10, true), // next day
		mk("c", d0.Add(day), "key_b", "claude", "", 502, 3, 0, 0, 999, false),                 // not charged
		mk("d", d0.Add(2*day), "key_b", "gpt-4o", "", 200, 100, 200, 50, 1000, true),
	}
	if err := s.InsertRequestLogs(ctx, rows); err != nil {
		t.Fatal(err)
	}
	u := func(v string, req, p, c, cached, errs int64, cost store.Money) store.UsageRow {
		return store.UsageRow{Value: v, Requests: req, PromptTokens: p, CompletionTokens: c, CachedTokens: cached, Errors: errs, CostMicros: cost}
	}
	tests := []struct {
		name string
		f    store.UsageFilter
		want []store.UsageRow
	}{
		{"by key", store.UsageFilter{By: store.UsageByKey}, []store.UsageRow{
			u("key_a", 2, 11, 22, 5, 0, 110), u("key_b", 2, 103, 200, 50, 1, 1000)}},
		{"by model", store.UsageFilter{By: store.UsageByModel}, []store.UsageRow{
			u("claude", 1, 3, 0, 0, 1, 0), u("gpt-4o", 3, 111, 222, 55, 0, 1110)}},
		{"by group", store.UsageFilter{By: store.UsageByGroup}, []store.UsageRow{
			u("", 2, 103, 200, 50, 1, 1000), u("research", 2, 11, 22, 5, 0, 110)}},
		{"by UTC day", store.UsageFilter{By: store.UsageByDay}, []store.UsageRow{
			u("2030-01-02", 1, 10, 20, 5, 0, 100), u("2030-01-03", 2, 4, 2, 0, 1, 10), u("2030-01-04", 1, 100, 200, 50, 0, 1000)}},
		{"since and until", store.UsageFilter{By: store.UsageByKey, Since: d0.Add(time.Second), Until: d0.Add(2 * day)}, []store.UsageRow{
			u("key_a", 1, 1, 2, 0, 0, 10), u("key_b", 1, 3, 0, 0, 1, 0)}},
		{"one key", store.UsageFilter{By: store.UsageByModel, KeyID: "key_b"}, []store.UsageRow{
			u("claude", 1, 3, 0, 0, 1, 0), u("gpt-4o", 1, 100, 200, 50, 0, 1000)}},
		{"no rows", store.UsageFilter{By: store.UsageByDay, Since: d0.Add(10 * day)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Usage(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("Usage(%+v) =\n%+v\nwant\n%+v", tt.f, got, tt.want)
			}
		})
	}
	t.Run("unknown dimension", func(t *testing.T) {
		if _, err := s.Usage(ctx, store.UsageFilter{By: "owner; DROP TABLE keys"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Usage with a bad By = %v, want ErrInvalid", err)
		}
	})
}

// exercisePrune checks retention: old rows and attempts go in batches,
// charged costs and newer rows stay.
func exercisePrune(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := fresh(t)
	var rows []store.RequestLog
	for n := 1; n <= 6; n++ {
		r := logN(n)
		r.Timeline = []store.Attempt{{N: 1, Channel: "c", Started: at(n)}}
		rows = append(rows, r)
	}
	rows[1].Charged, rows[1].CostMicros, rows[1].Owner = true, 500, "acme" // req-2: billed, kept
	rows[2].Charged = true                                                 // req-3: charged nothing, prunable
	// req-2's bodies go with their age although its row stays; req-5 keeps both.
	for _, i := range []int{1, 4} {
		rows[i].RequestBody, rows[i].ResponseBody = `{"messages":[]}`, "answer"
	}
	if err := s.InsertRequestLogs(ctx, rows); err != nil {
		t.Fatal(err)
	}
	cutoff := at(5) // req-1..req-4 are older
	steps := []struct {
		limit int
		want  int64
	}{{2, 2}, {2, 1}, {2, 0}}
	for i, st := range steps {
		n, err := s.PruneRequestLogs(ctx, cutoff, st.limit)
		if err != nil || n != st.want {
			t.Fatalf("step %d: PruneRequestLogs(limit %d) = %d, %v; want %d", i, st.limit, n, err, st.want)
		}
	}
	got, err := s.ListRequestLogs(ctx, store.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if g, want := requestIDs(got), []string{"req-6", "req-5", "req-2"}; !equalStrings(g, want) {
		t.Errorf("after pruning rows = %v, want %v", g, want)
	}
	for _, tt := range []struct {
		id   string
		want int
	}{{"req-1", 0}, {"req-4", 0}, {"req-5", 1}, {"req-6", 1}} {
		if a, err := s.ListAttempts(ctx, tt.id); err != nil || len(a) != tt.want {
			t.Errorf("ListAttempts(%s) = %d, %v; want %d", tt.id, len(a), err, tt.want)
		}
	}
	bodies, err := s.ListRequestLogs(ctx, store.LogFilter{Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bodies {
		if want := r.RequestID == "req-5"; r.HasBodies() != want {
			t.Errorf("after pruning %s has bodies %t, want %t: bodies go with their age, even when the row is kept",
				r.RequestID, r.HasBodies(), want)
		}
	}
	if _, spent, err := s.OwnerTotals(ctx, "acme"); err != nil || spent != 500 {
		t.Errorf("OwnerTotals(acme) spent = %d, %v; want 500 kept through pruning", spent, err)
	}
	if _, err := s.PruneRequestLogs(ctx, time.Time{}, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PruneRequestLogs with a zero cutoff = %v, want ErrInvalid", err)
	}
}
