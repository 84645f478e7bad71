package reqlog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/reqlog"
)

// pruningSink is a recordingSink that also holds old rows to prune: it
// deletes up to limit of them per call and records each call's cutoff.
type pruningSink struct {
	recordingSink
	mu      sync.Mutex
	old     int64
	calls   []int64 // rows deleted per call
	cutoffs []time.Time
}

func (s *pruningSink) PruneRequestLogs(_ context.Context, cutoff time.Time, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.old, int64(limit))
	s.old -= n
	s.calls = append(s.calls, n)
	s.cutoffs = append(s.cutoffs, cutoff)
	return n, nil
}

func (s *pruningSink) snapshot() ([]int64, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.calls...), append([]time.Time(nil), s.cutoffs...)
}

func TestWriterRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		old       int64
		advance   time.Duration
		want      []int64 // rows deleted per prune call
	}{
		{"backlog deleted in batches, then idle", time.Hour, 5, time.Second, []int64{2, 2, 1}},
		{"periodic prune after the interval", time.Hour, 0, 10*time.Minute + time.Second, []int64{0, 0}},
		{"zero retention keeps everything", 0, 5, time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &pruningSink{old: tt.old}
				w := reqlog.NewWriter(sink, reqlog.Options{FlushInterval: 200 * time.Millisecond,
					Retention: tt.retention, PruneBatch: 2, PruneInterval: 10 * time.Minute})
				w.Log(row(1)) // flushes still happen between prunes
				start := time.Now()
				time.Sleep(tt.advance)
				synctest.Wait()
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				calls, cutoffs := sink.snapshot()
				if fmt.Sprint(calls) != fmt.Sprint(tt.want) {
					t.Errorf("prune calls deleted %v, want %v", calls, tt.want)
				}
				if len(cutoffs) > 0 && cutoffs[0].After(start.Add(-tt.retention).Add(time.Second)) {
					t.Errorf("first cutoff %v is not about now minus %v", cutoffs[0], tt.retention)
				}
				var total int64
				for _, n := range calls {
					total += n
				}
				if got := w.Pruned(); got != uint64(total) {
					t.Errorf("Pruned() = %d, want %d", got, total)
				}
				if got := len(sink.rows()); got != 1 {
					t.Errorf("sink holds %d rows, want 1", got)
				}
			})
		})
	}
}
