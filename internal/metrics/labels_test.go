package metrics

import (
	"strings"
	"sync"
	"testing"
)

func TestFreeLabel(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"", "none"},
		{"rate_limit", "rate_limit"},
		{"http_503", "http_503"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},
		{strings.Repeat("a", 41), "other"},
		{"Rate_Limit", "other"},
		{"rate-limit", "other"},
		{"rate limit", "other"},
		{"sk-abc123", "other"},
		{"caf\u00e9", "other"},
		{"\xff", "other"},
		{"a{b=\"c\"}", "other"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := freeLabel(tc.in); got != tc.want {
				t.Errorf("freeLabel(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNameLabel(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, def, want string }{
		{"", "unknown", "unknown"},
		{"", "none", "none"},
		{"meta-llama/Llama-3.1-8B", "unknown", "meta-llama/Llama-3.1-8B"},
		{"gpt-4o@eu", "none", "gpt-4o@eu"},
		{strings.Repeat("m", maxNameLabel), "none", strings.Repeat("m", maxNameLabel)},
		{strings.Repeat("m", maxNameLabel+1), "none", "other"},
		{"bad\xffutf8", "none", "other"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := nameLabel(tc.in, tc.def); got != tc.want {
				t.Errorf("nameLabel(%q, %q) = %q, want %q", tc.in, tc.def, got, tc.want)
			}
		})
	}
}

func TestClosedLabelSets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		index func(string) int
		names []string
		in    string
		want  string
	}{
		{"endpoint chat", endpointIndex, endpointNames[:], "chat", "chat"},
		{"endpoint admin", endpointIndex, endpointNames[:], "admin", "admin"},
		{"endpoint path", endpointIndex, endpointNames[:], "/v1/embeddings", "other"},
		{"endpoint empty", endpointIndex, endpointNames[:], "", "other"},
		{"scope group", scopeIndex, scopeNames[:], "group", "group"},
		{"scope key id", scopeIndex, scopeNames[:], "key_01HZX", "other"},
		{"phase body", phaseIndex, phaseNames[:], "body", "body"},
		{"phase empty", phaseIndex, phaseNames[:], "", "unknown"},
		{"phase unlisted", phaseIndex, phaseNames[:], "dns", "other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.names[tc.index(tc.in)]; got != tc.want {
				t.Errorf("%q maps to %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStatusLabel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		want string
	}{{200, "200"}, {499, "499"}, {599, "599"}, {100, "100"}, {99, "other"}, {0, "other"}, {600, "other"}, {-1, "other"}}
	for _, tc := range cases {
		if got := statusLabel(statusCode(tc.code)); got != tc.want {
			t.Errorf("status %d = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestChildCache(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		keys   int // distinct keys, each looked up twice
		builds int
	}{
		{"each key built once", 10, 10},
		{"past the cap keys are built on every lookup", maxCached + 5, maxCached + 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			builds := 0
			c := newChildCache(func(k int) int {
				mu.Lock()
				builds++
				mu.Unlock()
				return k * 2
			})
			for range 2 {
				for k := range tc.keys {
					if got := c.get(k); got != k*2 {
						t.Fatalf("get(%d) = %d", k, got)
					}
				}
			}
			if builds != tc.builds {
				t.Errorf("%d builds, want %d", builds, tc.builds)
			}
		})
	}
}

func TestChildCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newChildCache(func(k int) *int { return &k })
	const workers, keys = 8, 64
	got := make([][]*int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range keys {
				got[w] = append(got[w], c.get(k))
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		for k := range keys {
			if got[w][k] != got[0][k] {
				t.Fatalf("worker %d got a different child for key %d", w, k)
			}
		}
	}
}
