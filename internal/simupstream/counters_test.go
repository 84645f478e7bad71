package simupstream

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/internal/openai"
)

// outcomes sends n chat requests for model and returns their statuses.
func outcomes(t *testing.T, sim *Simulator, model string, n int) []int {
	t.Helper()
	c := conn{name: "transport", client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
	out := make([]int, n)
	for i := range out {
		resp, _ := c.mustDo(t, "/chat/completions", chatBody(model, "hi", ""))
		out[i] = resp.StatusCode
	}
	return out
}

func TestProbabilityIsDeterministic(t *testing.T) {
	t.Parallel()
	flaky := Profile{Fault: Fault{Kind: FaultStatus, Status: 503, Probability: 0.3}}
	newSim := func(seed int64) *Simulator {
		return New(Options{Profiles: map[string]Profile{"m": flaky}, Seed: seed})
	}
	const n = 200
	tests := []struct {
		name string
		run  func(t *testing.T) (a, b []int)
		same bool
	}{
		{"same seed repeats", func(t *testing.T) ([]int, []int) {
			return outcomes(t, newSim(7), "m", n), outcomes(t, newSim(7), "m", n)
		}, true},
		{"reset repeats", func(t *testing.T) ([]int, []int) {
			sim := newSim(7)
			a := outcomes(t, sim, "m", n)
			sim.Reset()
			return a, outcomes(t, sim, "m", n)
		}, true},
		{"other seed differs", func(t *testing.T) ([]int, []int) {
			return outcomes(t, newSim(7), "m", n), outcomes(t, newSim(8), "m", n)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := tt.run(t)
			if slices.Equal(a, b) != tt.same {
				t.Errorf("equal = %v, want %v", !tt.same, tt.same)
			}
			if f := count(a, 503); f < n/10 || f > n/2 {
				t.Errorf("%d of %d requests failed, want about 30%%", f, n)
			}
		})
	}
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestTimesAndSetProfile(t *testing.T) {
	t.Parallel()
	failTwice := Profile{Fault: Fault{Kind: FaultStatus, Status: 500, Times: 2}}
	tests := []struct {
		name string
		run  func(t *testing.T, sim *Simulator) []int
		want []int
	}{
		{"fails the first times", func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "m", 4)
		}, []int{500, 500, 200, 200}},
		{"set profile restarts the count", func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 3)
			sim.SetProfile("m", failTwice)
			return append(a, outcomes(t, sim, "m", 3)...)
		}, []int{500, 500, 200, 500, 500, 200}},
		{"set profile heals", func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 1)
			sim.SetProfile("m", Profile{})
			return append(a, outcomes(t, sim, "m", 2)...)
		}, []int{500, 200, 200}},
		{"reset restarts the count", func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 3)
			sim.Reset()
			return append(a, outcomes(t, sim, "m", 1)...)
		}, []int{500, 500, 200, 500}},
		{"other models are healthy", func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "other", 2)
		}, []int{200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := New(Options{Profiles: map[string]Profile{"m": failTwice}})
			if got := tt.run(t, sim); !slices.Equal(got, tt.want) {
				t.Errorf("statuses = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequestsCounter(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{"bad": {Fault: Fault{Kind: FaultStatus, Status: 429}}}})
	outcomes(t, sim, "good", 3)
	outcomes(t, sim, "bad", 2)
	tests := []struct {
		model string
		want  int
	}{
		{"good", 3},
		{"bad", 2},
		{"never", 0},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			if got := sim.Requests(tt.model); got != tt.want {
				t.Errorf("Requests(%q) = %d, want %d", tt.model, got, tt.want)
			}
		})
	}
	sim.Reset()
	if got := sim.Requests("good"); got != 0 {
		t.Errorf("after Reset, Requests = %d", got)
	}
}

func TestStatusBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		status                int
		fault                 Fault
		typ, code, param, msg string
	}{
		{"401", 401, Fault{}, "invalid_request_error", "invalid_api_key", "", ""},
		{"403", 403, Fault{}, "request_forbidden", "", "", ""},
		{"404", 404, Fault{}, "invalid_request_error", "model_not_found", "model", ""},
		{"502", 502, Fault{}, "server_error", "", "", ""},
		{"422", 422, Fault{}, "invalid_request_error", "", "", ""},
		{"message and code override", 400, Fault{Code: "unsupported_parameter", Message: "no"}, "invalid_request_error", "unsupported_parameter", "", "no"},
		{"context length", 400, Fault{Code: "context_length_exceeded"}, "invalid_request_error", "context_length_exceeded", "messages",
			"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages."},
		{"context length message override", 400, Fault{Code: "context_length_exceeded", Message: "too long"}, "invalid_request_error", "context_length_exceeded", "messages", "too long"},
		{"content filter", 400, Fault{Code: "content_filter"}, "invalid_request_error", "content_filter", "",
			"Your prompt was flagged by the content filter and was not processed (simulated). Please modify your prompt and retry."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := statusBody(tt.status, "m", tt.fault).Error
			if e.Type != tt.typ || deref(e.Code) != tt.code || deref(e.Param) != tt.param || e.Message == "" ||
				(tt.msg != "" && e.Message != tt.msg) {
				t.Errorf("got %+v (code %q, param %q)", e, deref(e.Code), deref(e.Param))
			}
		})
	}
}

func TestFaultKindValid(t *testing.T) {
	t.Parallel()
	for _, k := range []FaultKind{FaultNone, FaultStatus, FaultReset, FaultNoResponse, FaultSlowFirstToken,
		FaultStall, FaultCut, FaultMalformedChunk, FaultNoDone, FaultNoUsage} {
		if !k.Valid() {
			t.Errorf("%q not valid", k)
		}
	}
	if FaultKind("explode").Valid() {
		t.Error("unknown kind valid")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{"m": {Length: 8}}})
	c := conn{name: "transport", client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
	const workers, each = 8, 10
	tests := []struct {
		name  string
		extra string
	}{
		{"non-stream", ""},
		{"stream", streamUsageOpt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := sim.Answer("m", "hi", 0)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for range each {
						if w == 0 {
							sim.SetProfile("m", Profile{Length: 8})
						}
						r := streamOrNot(t, c, tt.extra)
						if r != want {
							t.Errorf("answer %q, want %q", r, want)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
	t.Cleanup(func() {
		if got := sim.Requests("m"); got != 2*workers*each {
			t.Errorf("Requests = %d, want %d", got, 2*workers*each)
		}
	})
}

// streamOrNot returns the content of one chat answer, streamed or not. It
// may run on any goroutine.
func streamOrNot(t *testing.T, c conn, extra string) string {
	resp, err := c.do(t.Context(), "/chat/completions", chatBody("m", "hi", extra))
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	if extra != "" {
		return readChatStream(resp.Body).content
	}
	var cc openai.ChatCompletion
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil || len(cc.Choices) == 0 {
		t.Error(err)
		return ""
	}
	return *cc.Choices[0].Message.Content
}

func TestEvery(t *testing.T) {
	t.Parallel()
	fail := func(f Fault) Profile {
		f.Kind, f.Status = FaultStatus, 503
		return Profile{Fault: f}
	}
	tests := []struct {
		name    string
		profile Profile
		run     func(t *testing.T, sim *Simulator) []int
		want    []int
	}{
		{"every third request fails", fail(Fault{Every: 3}), func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "m", 7)
		}, []int{200, 200, 503, 200, 200, 503, 200}},
		{"every 1 is every request", fail(Fault{Every: 1}), func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "m", 2)
		}, []int{503, 503}},
		{"times counts the failing ones", fail(Fault{Every: 2, Times: 2}), func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "m", 7)
		}, []int{200, 503, 200, 503, 200, 200, 200}},
		{"probability 1 keeps the rhythm", fail(Fault{Every: 2, Probability: 1}), func(t *testing.T, sim *Simulator) []int {
			return outcomes(t, sim, "m", 4)
		}, []int{200, 503, 200, 503}},
		{"set profile restarts the numbering", fail(Fault{Every: 3}), func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 2)
			sim.SetProfile("m", fail(Fault{Every: 3}))
			return append(a, outcomes(t, sim, "m", 3)...)
		}, []int{200, 200, 200, 200, 503}},
		{"reset restarts the numbering", fail(Fault{Every: 2}), func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 1)
			sim.Reset()
			return append(a, outcomes(t, sim, "m", 2)...)
		}, []int{200, 200, 503}},
		{"counted per model", fail(Fault{Every: 2}), func(t *testing.T, sim *Simulator) []int {
			a := outcomes(t, sim, "m", 1)
			a = append(a, outcomes(t, sim, "other", 1)...)
			return append(a, outcomes(t, sim, "m", 1)...)
		}, []int{200, 200, 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := New(Options{Default: tt.profile})
			if got := tt.run(t, sim); !slices.Equal(got, tt.want) {
				t.Errorf("statuses = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLastRequest(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	c := conn{name: "transport", client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
	chat := chatBody("chat", "hi", streamUsageOpt)
	legacy := `{"model":"legacy","prompt":"hi"}`
	embed := `{"model":"embed","input":["a","b"]}`
	for _, req := range []struct{ path, body string }{
		{"/chat/completions", chatBody("chat", "first", "")},
		{"/chat/completions", chat},
		{"/chat/completions", chatBody("chat", "hi", `"max_tokens":0`)}, // rejected: not counted
		{"/completions", legacy},
		{"/embeddings", embed},
	} {
		c.mustDo(t, req.path, req.body)
	}
	tests := []struct {
		model string
		want  string
	}{
		{"chat", chat},
		{"legacy", legacy},
		{"embed", embed},
		{"never", ""},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got := sim.LastRequest(tt.model)
			if string(got) != tt.want || (tt.want == "") != (got == nil) {
				t.Errorf("LastRequest(%q) = %q, want %q", tt.model, got, tt.want)
			}
		})
	}
	t.Run("returns a copy", func(t *testing.T) {
		sim.LastRequest("chat")[0] = 'X'
		if got := sim.LastRequest("chat"); string(got) != chat {
			t.Errorf("LastRequest changed to %q", got)
		}
	})
	t.Run("reset forgets", func(t *testing.T) {
		sim.Reset()
		if got := sim.LastRequest("chat"); got != nil {
			t.Errorf("after Reset, LastRequest = %q", got)
		}
	})
}

// TestFlappingProfiles flips a model between healthy and failing while
// many clients send requests; run it with -race.
func TestFlappingProfiles(t *testing.T) {
	t.Parallel()
	healthy := Profile{Length: 8}
	failing := Profile{Length: 8, Fault: Fault{Kind: FaultStatus, Status: 503, Every: 2}}
	sim := New(Options{Profiles: map[string]Profile{"m": healthy}})
	c := conn{name: "transport", client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
	want := sim.Answer("m", "hi", 0)
	const workers, each = 20, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Some workers flip the profile while the others'
				// requests are in flight.
				switch (w + i) % 4 {
				case 0:
					sim.SetProfile("m", failing)
				case 2:
					sim.SetProfile("m", healthy)
				}
				_ = sim.LastRequest("m")
				extra := ""
				if (w+i)%2 == 1 {
					extra = streamUsageOpt
				}
				if err := flapOnce(t, c, extra, want); err != "" {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := sim.Requests("m"); got != workers*each {
		t.Errorf("Requests = %d, want %d", got, workers*each)
	}
}

// flapOnce sends one request and describes what is wrong with the answer:
// it must be a 503 error or the complete answer want.
func flapOnce(t *testing.T, c conn, extra, want string) string {
	resp, err := c.do(t.Context(), "/chat/completions", chatBody("m", "hi", extra))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return ""
	case resp.StatusCode != http.StatusOK:
		return "unexpected status " + resp.Status
	case extra != "":
		if r := readChatStream(resp.Body); r.err != nil || !r.done || r.content != want {
			return "bad stream: " + r.content
		}
		return ""
	}
	var cc openai.ChatCompletion
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil || len(cc.Choices) == 0 || deref(cc.Choices[0].Message.Content) != want {
		return "bad answer"
	}
	return ""
}
