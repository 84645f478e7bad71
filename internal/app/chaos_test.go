package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// chaosFaults are the faults spread over the chaos test's channel/model
// pairs, one each: every kind tollgate claims to handle, most of them on
// a share of the requests only.
var chaosFaults = []string{
	// Routed at priority 0.
	0:  `{kind: status, status: 500, probability: 0.3}`,                    // c0 m0
	4:  `{kind: cut, after: 3, probability: 0.3}`,                          // c1 m0
	5:  `{kind: stall, after: 2, probability: 0.25}`,                       // c1 m1, until tollgate gives up
	9:  `{kind: reset, probability: 0.3}`,                                  // c2 m1
	10: `{kind: slow_first_token, delay: 1s, probability: 0.25}`,           // c2 m2
	14: `{kind: status, status: 429, retry_after: 50ms, probability: 0.3}`, // c3 m2
	15: `{kind: malformed_chunk, after: 2, probability: 0.3}`,              // c3 m3
	3:  `{kind: cut, after: 0, every: 3}`,                                  // c0 m3, before any content
	// Routed at priority 1.
	8:  `{kind: no_response, probability: 0.2}`,         // c2 m0
	13: `{kind: status, status: 503, probability: 0.3}`, // c3 m1
	2:  `{kind: no_done, probability: 0.3}`,             // c0 m2
	7:  `{kind: status, status: 429, probability: 0.3}`, // c1 m3
	// m0's fallback.
	12: `{kind: cut, after: 6, probability: 0.5}`, // c3 m0
	// Not routed.
	1:  `{kind: status, status: 502, every: 4}`,
	6:  `{kind: stall, after: 5, delay: 50ms, probability: 0.3}`,
	11: `{kind: reset, every: 5}`,
}

const (
	chaosChannels    = 4
	chaosModels      = 4
	chaosMaxAttempts = 3
	chaosTotal       = 2 * time.Second
)

// chaosConfig builds the chaos gateway: four flaky channels (c2 claims
// prefill support but rejects it, c3 takes no prefill, so every way of
// continuing is exercised), four models each routed to three of them,
// model m0 falling back to a model that answers the same words, and a model
// "slow" whose streams, when its first route fails, outlast the total
// deadline.
func chaosConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `%s
upstream:
  retry: {max_attempts: %d, backoff_initial: 5ms, backoff_max: 20ms}
  timeouts: {response_header: 300ms, first_token: 300ms, idle: 100ms, total: %v}
  keepalive_interval: 100ms
  circuit: {cooldown: 100ms, max_cooldown: 500ms}
channels:
`, resilienceBase, chaosMaxAttempts, chaosTotal)
	for c := range chaosChannels {
		fmt.Fprintf(&b, "  - name: c%d\n    provider: simulator\n", c)
		switch c {
		case 2:
			b.WriteString("    prefill: true\n")
		case 3:
			b.WriteString("    prefill: false\n")
		}
		b.WriteString("    simulator:\n      models:\n")
		for m := range chaosModels {
			fmt.Fprintf(&b, "        m%d: {length: 12, reject_prefill: %v, fault: %s}\n", m, c == 2, chaosFaults[(c*chaosModels+m)%len(chaosFaults)])
		}
		switch c {
		case 0:
			b.WriteString("        slow: {length: 30, fault: {kind: slow_first_token, delay: 1s, probability: 0.5}}\n")
		case 1:
			b.WriteString("        slow: {length: 30, tokens_per_second: 12.5}\n")
		}
	}
	b.WriteString("models:\n")
	for m := range chaosModels {
		fmt.Fprintf(&b, "  - name: m%d\n    routes: [{channel: c%d}, {channel: c%d}, {channel: c%d, priority: 1}]\n",
			m, m%chaosChannels, (m+1)%chaosChannels, (m+2)%chaosChannels)
		if m == 0 {
			b.WriteString("    fallbacks: [{model: m0-spare}]\n")
		}
	}
	b.WriteString("  - {name: m0-spare, routes: [{channel: c3, model: m0}]}\n")
	b.WriteString("  - {name: slow, routes: [{channel: c0}, {channel: c1, priority: 1}]}\n")
	return b.String()
}

// chaosModelNames returns the upstream model names of the chaos gateway.
func chaosModelNames() []string {
	names := []string{"slow"}
	for m := range chaosModels {
		names = append(names, fmt.Sprintf("m%d", m))
	}
	return names
}

// chaosOutcome is how one chaos request ended.
type chaosOutcome int

const (
	chaosComplete  chaosOutcome = iota // the whole answer
	chaosHTTPError                     // an error status with an OpenAI error body
	chaosInBand                        // a 200 stream ending in an error event, no [DONE]
)

// TestChaos sends a few thousand requests, streamed and not, through
// channels that fail in every way at once. Every request must end within
// its total deadline with the complete answer or an explicit error, never
// a truncated success; no request may take more than max_attempts
// upstream attempts; and afterwards tollgate's goroutines and heap return
// to where they started.
func TestChaos(t *testing.T) {
	requests, workers := 2000, 50
	if testing.Short() {
		requests = 400
	}
	g := newGateway(t, chaosConfig())
	sim := g.sim(t, "c0") // every channel answers the same words for a model and prompt
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	client := &http.Client{Transport: tr}

	// Warm up once so that lazily started pieces count in the baseline.
	send(t, g, client, "m1", "warm up", "")
	tr.CloseIdleConnections()
	goroutines, heap := settle(t, 0)

	type failure struct {
		i   int
		msg string
	}
	var (
		mu       sync.Mutex
		failures []failure
		counts   [3]atomic.Int64
		slowest  atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(i int, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, failure{i, fmt.Sprintf(format, args...)})
	}
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= requests {
					return
				}
				model := fmt.Sprintf("m%d", i%chaosModels)
				if i%40 == 38 { // a stream
					model = "slow"
				}
				prompt := fmt.Sprintf("chaos request %d", i)
				stream := i%2 == 0
				t0 := time.Now()
				extra := fmt.Sprintf(`"stream":%v`, stream)
				usage := i%4 == 0
				if usage {
					extra += `,"stream_options":{"include_usage":true}`
				}
				status, body, err := send(t, g, client, model, prompt, extra)
				elapsed := time.Since(t0)
				if e := int64(elapsed); e > slowest.Load() {
					slowest.Store(e) // racy max, for the log only
				}
				if err != nil {
					fail(i, "transport error after %v: %v", elapsed, err)
					continue
				}
				if elapsed > chaosTotal+slack {
					fail(i, "took %v, beyond the %v total deadline", elapsed, chaosTotal)
				}
				out, problem := judge(status, body, stream, usage, sim.Answer(model, prompt, 0))
				if problem != "" {
					fail(i, "%s (stream %v, status %d):\n%s", problem, stream, status, body)
					continue
				}
				counts[out].Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests in %v: %d complete, %d HTTP errors, %d in-band errors; slowest %v",
		requests, time.Since(start).Round(time.Millisecond), counts[chaosComplete].Load(), counts[chaosHTTPError].Load(),
		counts[chaosInBand].Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Errorf("request %d: %s", f.i, f.msg)
	}
	if n := counts[chaosComplete].Load(); n < int64(requests)/2 {
		t.Errorf("only %d of %d requests completed: the faults overwhelm tollgate instead of being absorbed", n, requests)
	}

	// Nothing is left running or held once the clients' connections close.
	tr.CloseIdleConnections()
	settle(t, goroutines, heap)

	// Attempts: per request from the log, and in total from the upstreams.
	g.requestLogs(t) // stops the server and flushes the log
	var rows []store.RequestLog
	for _, m := range chaosModelNames() {
		page, err := g.app.Store.ListRequestLogs(t.Context(), store.LogFilter{Model: m, Limit: store.MaxLogLimit})
		if err != nil || len(page) == store.MaxLogLimit {
			t.Fatalf("reading the log rows of %s: %d rows, %v", m, len(page), err)
		}
		rows = append(rows, page...)
	}
	if len(rows) != requests+1 {
		t.Errorf("%d log rows, want %d", len(rows), requests+1)
	}
	for _, r := range rows {
		if r.Attempts > chaosMaxAttempts {
			t.Errorf("request %s made %d upstream attempts, more than max_attempts %d (%s)", r.RequestID, r.Attempts, chaosMaxAttempts, r.RetryReasons)
		}
		if r.Truncated && r.Status == http.StatusOK && r.ErrorType == "" {
			t.Errorf("request %s is logged as a truncated success", r.RequestID)
		}
	}
	upstream := 0
	for c := range chaosChannels {
		for _, m := range chaosModelNames() {
			upstream += g.sim(t, fmt.Sprintf("c%d", c)).Requests(m)
		}
	}
	if upstream > (requests+1)*chaosMaxAttempts {
		t.Errorf("the upstreams got %d requests for %d client requests, more than %d attempts each", upstream, requests+1, chaosMaxAttempts)
	}
	t.Logf("%d upstream requests for %d client requests", upstream, requests+1)
}

// send makes one chat request with its own bound, so a hang fails the
// test instead of stalling it.
func send(t *testing.T, g *gateway, client *http.Client, model, prompt, extra string) (int, string, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*chaosTotal)
	defer cancel()
	body := chatBody(model, prompt, extra)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// judge classifies one answer, or says what is wrong with it.
func judge(status int, body string, stream, usage bool, answer string) (chaosOutcome, string) {
	if status != http.StatusOK {
		var env struct {
			Error *struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(body), &env) != nil || env.Error == nil || env.Error.Message == "" || status < 400 {
			return 0, "an error status without an OpenAI error body"
		}
		return chaosHTTPError, ""
	}
	if !stream {
		var resp struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(body), &resp) != nil || len(resp.Choices) != 1 {
			return 0, "a 200 that is not a chat completion"
		}
		if got := resp.Choices[0].Message.Content; got != answer {
			return 0, fmt.Sprintf("a 200 with the wrong answer %q, want %q", got, answer)
		}
		return chaosComplete, ""
	}
	r := sseResult{body: body}
	if problems := r.parse(); len(problems) > 0 {
		return 0, strings.Join(problems, "; ")
	}
	switch {
	case r.errEvent != "" && r.done:
		return 0, "an error event and [DONE]"
	case r.errEvent != "":
		if r.events[len(r.events)-1] != r.errEvent {
			return 0, "events after the error event"
		}
		if !strings.HasPrefix(answer, r.text) || r.roles > 1 {
			return 0, fmt.Sprintf("before the error: %q with %d roles, not a prefix of %q", r.text, r.roles, answer)
		}
		return chaosInBand, ""
	case !r.done:
		return 0, fmt.Sprintf("a truncated success: %q without [DONE] or an error", r.text)
	case r.text != answer || r.roles != 1 || r.events[len(r.events)-1] != "[DONE]":
		return 0, fmt.Sprintf("a completed stream with %q and %d roles, want %q and one role", r.text, r.roles, answer)
	case usage != (r.usage != nil):
		return 0, fmt.Sprintf("a completed stream with usage %+v; the client asked for it: %v", r.usage, usage)
	}
	return chaosComplete, ""
}

// settle waits for the goroutine count to drop to at most goroutines (plus
// a little) and checks the heap in use against heap (plus a generous
// margin). With zero arguments it only measures, after letting things
// settle. It returns the final measurements.
func settle(t *testing.T, goroutines int, heap ...uint64) (int, uint64) {
	t.Helper()
	const extraGoroutines = 4
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for goroutines > 0 && n > goroutines+extraGoroutines && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling, not synchronisation: the deadline bounds it
		n = runtime.NumGoroutine()
	}
	if goroutines > 0 && n > goroutines+extraGoroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines remain, baseline %d:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if len(heap) > 0 {
		const margin = 32 << 20
		if ms.HeapInuse > heap[0]+margin {
			t.Errorf("heap in use %d MiB after the load, baseline %d MiB", ms.HeapInuse>>20, heap[0]>>20)
		}
		t.Logf("goroutines %d (baseline %d), heap in use %d KiB (baseline %d KiB)", n, goroutines, ms.HeapInuse>>10, heap[0]>>10)
	}
	return n, ms.HeapInuse
}
