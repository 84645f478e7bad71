package reqlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/reqlog"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recordingSink is an in-memory Sink that records every batch. failures
// makes the first calls fail; gate, when set, makes each call wait for a
// value on it (or ctx) after announcing itself on entered.
type recordingSink struct {
	mu       sync.Mutex
	batches  [][]store.RequestLog
	calls    int
	failures int
	entered  chan struct{}
	gate     chan struct{}
}

var errSinkDown = errors.New("sink down")

func (s *recordingSink) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failures {
		return fmt.Errorf("insert: %w", errSinkDown)
	}
	s.batches = append(s.batches, append([]store.RequestLog(nil), rows...))
	return nil
}

func (s *recordingSink) rows() []store.RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.RequestLog
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

func (s *recordingSink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

func row(n int) store.RequestLog {
	return store.RequestLog{
		RequestID: fmt.Sprintf("req-%d", n),
		Time:      time.Unix(1_900_000_000, 0).Add(time.Duration(n) * time.Millisecond),
		Endpoint:  "/v1/chat/completions",
		Status:    200,
	}
}

func checkCounts(t *testing.T, w *reqlog.Writer, written, dropped uint64) {
	t.Helper()
	if w.Written() != written || w.Dropped() != dropped {
		t.Errorf("Written, Dropped = %d, %d; want %d, %d", w.Written(), w.Dropped(), written, dropped)
	}
}

func TestWriterWritesEverythingLogged(t *testing.T) {
	const goroutines, perGoroutine = 8, 100
	tests := []struct {
		name  string
		sink  func(t *testing.T) reqlog.Sink
		count func(t *testing.T, sink reqlog.Sink) map[string]bool
	}{
		{"recording sink", func(*testing.T) reqlog.Sink { return &recordingSink{} },
			func(t *testing.T, sink reqlog.Sink) map[string]bool {
				ids := map[string]bool{}
				for _, r := range sink.(*recordingSink).rows() {
					ids[r.RequestID] = true
				}
				return ids
			}},
		{"sqlite store", func(t *testing.T) reqlog.Sink {
			s, err := sqlite.Open(context.Background(), t.TempDir()+"/logs.db")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}, func(t *testing.T, sink reqlog.Sink) map[string]bool {
			rows, err := sink.(*sqlite.Store).ListRequestLogs(context.Background(), store.LogFilter{Limit: store.MaxLogLimit})
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for _, r := range rows {
				ids[r.RequestID] = true
			}
			return ids
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := tt.sink(t)
			w := reqlog.NewWriter(sink, reqlog.Options{BatchSize: 64})
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perGoroutine {
						if !w.Log(row(g*perGoroutine + i)) {
							t.Errorf("Log returned false with room in the queue")
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			const total = goroutines * perGoroutine
			checkCounts(t, w, total, 0)
			if ids := tt.count(t, sink); len(ids) != total {
				t.Errorf("sink holds %d distinct rows, want %d", len(ids), total)
			}
		})
	}
}

func TestWriterBatching(t *testing.T) {
	tests := []struct {
		name      string
		rows      int
		batchSize int
		advance   time.Duration // fake time to let pass before Close
		want      []int         // batch sizes seen by the sink
	}{
		{"full batches then remainder on close", 10, 4, 0, []int{4, 4, 2}},
		{"partial batch flushed by interval", 3, 100, 200 * time.Millisecond, []int{3}},
		{"nothing logged", 0, 4, time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &recordingSink{}
				w := reqlog.NewWriter(sink, reqlog.Options{BatchSize: tt.batchSize, FlushInterval: 200 * time.Millisecond})
				for i := range tt.rows {
					w.Log(row(i))
				}
				if tt.advance > 0 {
					time.Sleep(tt.advance)
					synctest.Wait()
					if got := len(sink.rows()); got != tt.rows {
						t.Errorf("after %v the sink holds %d rows, want %d", tt.advance, got, tt.rows)
					}
				}
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := sink.batchSizes(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("batch sizes = %v, want %v", got, tt.want)
				}
				checkCounts(t, w, uint64(tt.rows), 0)
			})
		})
	}
}

func TestWriterDropsWhenQueueFull(t *testing.T) {
	sink := &recordingSink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := reqlog.NewWriter(sink, reqlog.Options{QueueSize: 4, BatchSize: 1})
	if !w.Log(row(0)) {
		t.Fatal("first Log returned false")
	}
	<-sink.entered // the writer holds row 0 and is blocked in the sink
	tests := []struct {
		name string
		n    int
		want bool
	}{
		{"fills the queue", 4, true},
		{"overflows", 3, false},
	}
	next := 1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range tt.n {
				if got := w.Log(row(next)); got != tt.want {
					t.Errorf("Log(row %d) = %v, want %v", next, got, tt.want)
				}
				next++
			}
		})
	}
	if w.Depth() != 4 {
		t.Errorf("Depth() = %d, want 4", w.Depth())
	}
	close(sink.gate)
	go func() {
		for range sink.entered {
		}
	}()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(sink.entered)
	checkCounts(t, w, 5, 3)
	if w.Log(row(99)) {
		t.Error("Log after Close returned true")
	}
	checkCounts(t, w, 5, 4)
}

func TestWriterRetries(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		wantCalls   int
		wantWritten uint64
		wantDropped uint64
		wantErr     error
	}{
		{"first attempt succeeds", 0, 1, 5, 0, nil},
		{"recovers after two failures", 2, 3, 5, 0, nil},
		{"gives up after four attempts", 1000, 4, 0, 5, reqlog.ErrRowsLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &recordingSink{failures: tt.failures}
				w := reqlog.NewWriter(sink, reqlog.Options{})
				for i := range 5 {
					w.Log(row(i))
				}
				err := w.Close(context.Background())
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Close = %v, want %v", err, tt.wantErr)
				}
				if sink.calls != tt.wantCalls {
					t.Errorf("sink called %d times, want %d", sink.calls, tt.wantCalls)
				}
				checkCounts(t, w, tt.wantWritten, tt.wantDropped)
			})
		})
	}
}

func TestWriterCloseContextEnds(t *testing.T) {
	tests := []struct {
		name string
		sink *recordingSink
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while sink blocks", &recordingSink{gate: make(chan struct{})},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			}, context.Canceled},
		{"deadline during retry backoff", &recordingSink{failures: 1000},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 60*time.Millisecond)
			}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := reqlog.NewWriter(tt.sink, reqlog.Options{BatchSize: 2})
				for i := range 10 {
					w.Log(row(i))
				}
				ctx, cancel := tt.ctx()
				defer cancel()
				start := time.Now()
				err := w.Close(ctx)
				if !errors.Is(err, reqlog.ErrRowsLost) || !errors.Is(err, tt.want) {
					t.Errorf("Close = %v, want ErrRowsLost and %v", err, tt.want)
				}
				if elapsed := time.Since(start); elapsed > time.Second {
					t.Errorf("Close took %v of fake time, want prompt return", elapsed)
				}
				checkCounts(t, w, 0, 10)
				if err := w.Close(context.Background()); err != nil {
					t.Errorf("second Close = %v, want nil", err)
				}
			})
		})
	}
}

func TestWriterConcurrentLogAndClose(t *testing.T) {
	const goroutines, perGoroutine = 16, 2000
	tests := []struct {
		name      string
		queueSize int
		batchSize int
	}{
		{"room for every row", goroutines * perGoroutine, 64},
		{"small queue drops rows", 100, 7},
		{"batches of one", 1000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{}
			w := reqlog.NewWriter(sink, reqlog.Options{QueueSize: tt.queueSize, BatchSize: tt.batchSize,
				FlushInterval: time.Millisecond})
			halfway := make(chan struct{})
			closed := make(chan error, 1)
			go func() {
				<-halfway
				closed <- w.Close(context.Background())
			}()
			var accepted, rejected atomic.Uint64
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perGoroutine {
						if g == 0 && i == perGoroutine/2 {
							close(halfway)
						}
						if w.Log(row(g*perGoroutine + i)) {
							accepted.Add(1)
						} else {
							rejected.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkCounts(t, w, accepted.Load(), rejected.Load())
			checkPerGoroutineOrder(t, sink.rows(), perGoroutine, int(accepted.Load()))
		})
	}
}

// checkPerGoroutineOrder checks that rows holds want distinct rows and
// that each goroutine's rows (numbered g*perGoroutine+i by row) arrived
// in the order it logged them.
func checkPerGoroutineOrder(t *testing.T, rows []store.RequestLog, perGoroutine, want int) {
	t.Helper()
	if len(rows) != want {
		t.Errorf("sink holds %d rows, want %d", len(rows), want)
	}
	last := map[int]int{} // goroutine: last row number seen
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.RequestID] {
			t.Fatalf("row %s written twice", r.RequestID)
		}
		seen[r.RequestID] = true
		var n int
		if _, err := fmt.Sscanf(r.RequestID, "req-%d", &n); err != nil {
			t.Fatal(err)
		}
		g := n / perGoroutine
		if prev, ok := last[g]; ok && n < prev {
			t.Fatalf("goroutine %d: row %d written after row %d", g, n, prev)
		}
		last[g] = n
	}
}

func TestLogDoesNotAllocate(t *testing.T) {
	w := reqlog.NewWriter(&recordingSink{gate: make(chan struct{})}, reqlog.Options{QueueSize: 8, BatchSize: 1})
	r := row(1)
	// 200 runs overflow the 8-slot queue, so both paths are measured.
	if n := testing.AllocsPerRun(200, func() { w.Log(r) }); n != 0 {
		t.Errorf("Log allocates %v times per call, want 0", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w.Close(ctx)
}

// discardSink accepts and forgets every batch.
type discardSink struct{}

func (discardSink) InsertRequestLogs(context.Context, []store.RequestLog) error { return nil }

func BenchmarkLog(b *testing.B) {
	w := reqlog.NewWriter(discardSink{}, reqlog.Options{})
	r := row(1)
	b.ReportAllocs()
	for b.Loop() {
		w.Log(r)
	}
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "drops/op")
}

func BenchmarkLogParallel(b *testing.B) {
	w := reqlog.NewWriter(discardSink{}, reqlog.Options{})
	r := row(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Log(r)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "drops/op")
}
