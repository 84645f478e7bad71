package idempotency_test

import (
	"strconv"
	"testing"

	"github.com/tollgate/tollgate/internal/idempotency"
)

func BenchmarkMemoryBeginFinishNewKey(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 10_000})
	ctx := b.Context()
	res := idempotency.Result{Status: 200, Body: make([]byte, 2048)}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		i++
		if o, _, err := m.Begin(ctx, "scope", k, "fp"); err != nil {
			b.Fatal(err)
		} else if o != idempotency.Started {
			_ = m.Abandon(ctx, "scope", k)
			continue
		}
		if err := m.Finish(ctx, "scope", k, res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryReplayStream(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{})
	ctx := b.Context()
	rec := idempotency.NewRecorder(0)
	for range 200 {
		rec.AddEvent(make([]byte, 120))
	}
	res, _ := rec.Result(200, map[string]string{"Content-Type": "text/event-stream"})
	if _, _, err := m.Begin(ctx, "scope", "k", "fp"); err != nil {
		b.Fatal(err)
	}
	if err := m.Finish(ctx, "scope", "k", res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if o, _, err := m.Begin(ctx, "scope", "k", "fp"); err != nil || o != idempotency.Replay {
			b.Fatal(o, err)
		}
	}
}

func BenchmarkRecorderAddEvent(b *testing.B) {
	data := make([]byte, 120)
	b.ReportAllocs()
	for b.Loop() {
		rec := idempotency.NewRecorder(0)
		for range 200 {
			rec.AddEvent(data)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	body := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		_ = idempotency.Fingerprint(body)
	}
}
