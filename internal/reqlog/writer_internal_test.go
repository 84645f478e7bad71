package reqlog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// sizeSink records the size of every batch it is given and keeps no rows.
type sizeSink struct {
	mu    sync.Mutex
	sizes []int
}

func (s *sizeSink) InsertRequestLogs(_ context.Context, rows []store.RequestLog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes = append(s.sizes, len(rows))
	return nil
}

func (s *sizeSink) batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// bufferRows reports how many rows the buffers the Writer holds have room
// for, in all and in the largest one. taken belongs to the background
// goroutine: call bufferRows only while that goroutine is idle (after
// synctest.Wait), gone, or not started.
func (w *Writer) bufferRows() (total, largest int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	add := func(bufs ...[]store.RequestLog) {
		for _, b := range bufs {
			total += cap(b)
			largest = max(largest, cap(b))
		}
	}
	add(w.filling)
	add(w.full...)
	add(w.free...)
	add(w.taken...)
	return total, largest
}

func testRow(n int) store.RequestLog {
	return store.RequestLog{RequestID: fmt.Sprintf("req-%d", n), Endpoint: "/v1/chat/completions", Status: 200}
}

func TestWriterMemoryBound(t *testing.T) {
	const interval = 200 * time.Millisecond
	tests := []struct {
		name      string
		queueSize int
		batchSize int
		rows      int
		round     int // rows logged before the goroutine catches up; 0: all at once
	}{
		{"burst far beyond the kept capacity", 100_000, 64, 100_000, 0},
		{"steady load in batch-sized rounds", 100_000, 64, 100_000, 64},
		{"steady load with partial batches", 100_000, 64, 100_000, 100},
		{"overflowing the queue", 1_000, 64, 100_000, 0},
		{"default sizes", 0, 0, 100_000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := NewWriter(&sizeSink{}, Options{QueueSize: tt.queueSize, BatchSize: tt.batchSize, FlushInterval: interval})
				for i := range tt.rows {
					w.Log(testRow(i))
					if tt.round > 0 && (i+1)%tt.round == 0 {
						synctest.Wait()
					}
				}
				// The first tick writes what full batches left; by the
				// second, buffers the burst needed went a whole interval
				// unused and are released.
				time.Sleep(2 * interval)
				synctest.Wait()
				if got := w.Written() + w.Dropped(); got != uint64(tt.rows) {
					t.Fatalf("Written+Dropped = %d, want %d", got, tt.rows)
				}
				if w.Depth() != 0 {
					t.Errorf("Depth() = %d after the tick, want 0", w.Depth())
				}
				if total, largest := w.bufferRows(); total > keepFree*w.batchSize || largest > w.batchSize {
					t.Errorf("buffers hold room for %d rows, at most %d in one; want at most %d, %d",
						total, largest, keepFree*w.batchSize, w.batchSize)
				}
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if total, _ := w.bufferRows(); total != 0 {
					t.Errorf("after Close buffers hold room for %d rows, want none", total)
				}
			})
		})
	}
}

func TestQueueMemoryFollowsRows(t *testing.T) {
	// The background goroutine is not running, so every logged row waits.
	const batch, queue = 64, 1000
	tests := []struct {
		name string
		rows int
		want int // rows the buffers have room for
	}{
		{"nothing logged", 0, 0},
		{"one row takes one batch buffer", 1, batch},
		{"a full batch", batch, batch},
		{"one row past a batch", batch + 1, 2 * batch},
		{"a full queue", queue, 16 * batch},
		{"rows beyond the queue take nothing", 10 * queue, 16 * batch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newWriter(discard{}, Options{BatchSize: batch, QueueSize: queue})
			defer w.abort()
			for i := range tt.rows {
				w.Log(testRow(i))
			}
			if total, _ := w.bufferRows(); total != tt.want {
				t.Errorf("after %d rows the buffers hold room for %d, want %d", tt.rows, total, tt.want)
			}
			if want := min(tt.rows, queue); w.Depth() != want {
				t.Errorf("Depth() = %d, want %d", w.Depth(), want)
			}
		})
	}
}

func TestFreeBuffersReleasedWhenUnused(t *testing.T) {
	// The background goroutine is not running: each step is one thing it
	// would do. A burst fills the queue (16 batches) and writes it all.
	const batch, queue = 64, 1000
	tests := []struct {
		name  string
		steps string // b: burst, t: tick (trimFree)
		want  int    // batch buffers kept at the end
	}{
		{"a burst's buffers are kept until a tick", "b", 16},
		{"the tick right after the burst keeps them", "bt", 16},
		{"a whole interval unused releases them", "btt", keepFree},
		{"bursts every interval keep reusing them", "btbtbtbt", 16},
		{"released once the bursts stop", "btbtbtt", keepFree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ctx := newWriter(discard{}, Options{BatchSize: batch, QueueSize: queue})
			defer w.abort()
			for _, step := range tt.steps {
				switch step {
				case 'b':
					for i := range queue {
						w.Log(testRow(i))
					}
					w.writeQueued(ctx, true)
				case 't':
					w.trimFree()
				}
			}
			if total, _ := w.bufferRows(); total != tt.want*batch {
				t.Errorf("buffers hold room for %d rows, want %d batches of %d", total, tt.want, batch)
			}
		})
	}
}

func TestLogWakesOnlyForFullBatch(t *testing.T) {
	// Each step logs rows, then optionally lets the background goroutine
	// take a full batch; the goroutine is not running, so the wake-ups
	// Log sends stay in the channel to be counted.
	type step struct {
		log       int
		flush     bool
		wantWake  bool  // a wake-up is waiting after logging
		wantSizes []int // all batches written so far
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"63 rows do not wake", []step{{log: 63}}},
		{"the 64th row wakes once", []step{{log: 63}, {log: 1, wantWake: true}}},
		{"rows past a full batch add no wake-up", []step{{log: 64, wantWake: true}, {log: 200, wantWake: true}}},
		{"a partial batch waits until it is full", []step{
			{log: 100, wantWake: true, flush: true, wantSizes: []int{64}},
			{log: 27, wantSizes: []int{64}},
			{log: 1, wantWake: true, flush: true, wantSizes: []int{64, 64}},
		}},
		{"a stale wake-up writes nothing", []step{
			{log: 64, wantWake: true, flush: true, wantSizes: []int{64}},
			{log: 10, flush: true, wantSizes: []int{64}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &sizeSink{}
			w, ctx := newWriter(sink, Options{BatchSize: 64, QueueSize: 1000, FlushInterval: time.Hour})
			defer w.abort()
			n := 0
			for i, s := range tt.steps {
				for range s.log {
					if !w.Log(testRow(n)) {
						t.Fatalf("step %d: Log(row %d) = false", i, n)
					}
					n++
				}
				if got := len(w.wake) == 1; got != s.wantWake {
					t.Errorf("step %d: wake-up waiting = %v, want %v", i, got, s.wantWake)
				}
				if s.flush {
					select {
					case <-w.wake:
					default:
					}
					w.writeQueued(ctx, false)
				}
				if got := sink.batches(); fmt.Sprint(got) != fmt.Sprint(s.wantSizes) {
					t.Errorf("step %d: batches %v, want %v", i, got, s.wantSizes)
				}
			}
		})
	}
}

func TestWriterWritesOnFullBatchOrTick(t *testing.T) {
	const interval = time.Hour
	tests := []struct {
		name      string
		rows      int
		advance   time.Duration // fake time to let pass after logging
		wantSoon  []int         // batches written without time passing
		wantLater []int         // batches written after advance
		wantClose []int         // batches written by the end of Close
	}{
		{"63 rows wait for Close", 63, 0, nil, nil, []int{63}},
		{"63 rows wait for the tick", 63, interval, nil, []int{63}, []int{63}},
		{"the 64th row is written at once", 64, 0, []int{64}, []int{64}, []int{64}},
		{"full batches at once, the rest at the tick", 150, interval, []int{64, 64}, []int{64, 64, 22}, []int{64, 64, 22}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &sizeSink{}
				w := NewWriter(sink, Options{BatchSize: 64, FlushInterval: interval})
				for i := range tt.rows {
					w.Log(testRow(i))
				}
				synctest.Wait()
				if got := sink.batches(); fmt.Sprint(got) != fmt.Sprint(tt.wantSoon) {
					t.Errorf("without time passing: batches %v, want %v", got, tt.wantSoon)
				}
				time.Sleep(tt.advance)
				synctest.Wait()
				if got := sink.batches(); fmt.Sprint(got) != fmt.Sprint(tt.wantLater) {
					t.Errorf("after %v: batches %v, want %v", tt.advance, got, tt.wantLater)
				}
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := sink.batches(); fmt.Sprint(got) != fmt.Sprint(tt.wantClose) {
					t.Errorf("after Close: batches %v, want %v", got, tt.wantClose)
				}
			})
		})
	}
}

func TestBatchSizeAboveQueueSize(t *testing.T) {
	tests := []struct {
		name      string
		batch     int
		queue     int
		wantBatch int
	}{
		{"batch within the queue", 4, 10, 4},
		{"batch equal to the queue", 10, 10, 10},
		{"batch above the queue is lowered to it", 100, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &sizeSink{}
			w, ctx := newWriter(sink, Options{BatchSize: tt.batch, QueueSize: tt.queue})
			defer w.abort()
			for i := range tt.queue + 1 {
				if got, want := w.Log(testRow(i)), i < tt.queue; got != want {
					t.Errorf("Log(row %d) = %v, want %v", i, got, want)
				}
			}
			w.writeQueued(ctx, false)
			want := make([]int, tt.queue/tt.wantBatch)
			for i := range want {
				want[i] = tt.wantBatch
			}
			if got := sink.batches(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("full queue written as batches %v, want %v", got, want)
			}
		})
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name  string
		batch int
		rows  int // rows logged per cycle
	}{
		{"exact batches", 64, 64},
		{"batches plus a carried rest", 64, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ctx := newWriter(discard{}, Options{BatchSize: tt.batch, QueueSize: 10 * tt.batch})
			defer w.abort()
			r := testRow(1)
			cycle := func() {
				for range tt.rows {
					w.Log(r)
				}
				w.writeQueued(ctx, false)
			}
			for range 4 { // grow the buffers to the load
				cycle()
			}
			if n := testing.AllocsPerRun(50, cycle); n != 0 {
				t.Errorf("a cycle of %d Logs and a flush allocates %v times, want 0", tt.rows, n)
			}
		})
	}
}

// discard accepts and forgets every batch.
type discard struct{}

func (discard) InsertRequestLogs(context.Context, []store.RequestLog) error { return nil }
