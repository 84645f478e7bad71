package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPeekUsage(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want UsageCounts
		ok   bool
	}{
		{name: "totals", raw: `{"prompt_tokens":12,"completion_tokens":24,"total_tokens":36}`,
			want: UsageCounts{12, 24, 36, 0}, ok: true},
		{name: "cached tokens", raw: `{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}`,
			want: UsageCounts{100, 5, 105, 64}, ok: true},
		{name: "null details", raw: `{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":null}`,
			want: UsageCounts{1, 2, 3, 0}, ok: true},
		{name: "absent and null counts are zero", raw: `{"prompt_tokens":null,"total_tokens":7}`,
			want: UsageCounts{0, 0, 7, 0}, ok: true},
		{name: "empty object", raw: `{}`, ok: true},
		{name: "whitespace", raw: " {\n \"prompt_tokens\" : 3 }\t", want: UsageCounts{PromptTokens: 3}, ok: true},
		{name: "last duplicate wins", raw: `{"prompt_tokens":1,"prompt_tokens":2}`, want: UsageCounts{PromptTokens: 2}, ok: true},
		{name: "escaped key", raw: `{"prompt\u005ftokens":9}`, want: UsageCounts{PromptTokens: 9}, ok: true},
		{name: "fraction", raw: `{"prompt_tokens":1.5}`},
		{name: "exponent", raw: `{"completion_tokens":1e3}`},
		{name: "string count", raw: `{"total_tokens":"36"}`},
		{name: "overflow", raw: `{"total_tokens":9223372036854775808}`},
		{name: "not an object", raw: `[1,2]`},
		{name: "null", raw: `null`},
		{name: "malformed", raw: `{"prompt_tokens":`},
		{name: "details not an object", raw: `{"prompt_tokens_details":3}`},
		{name: "cached tokens not an integer", raw: `{"prompt_tokens_details":{"cached_tokens":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PeekUsage([]byte(tt.raw))
			if ok != tt.ok || got != tt.want {
				t.Fatalf("PeekUsage(%s) = %+v, %v; want %+v, %v", tt.raw, got, ok, tt.want, tt.ok)
			}
			// Where encoding/json accepts the object, both read the same counts.
			var u Usage
			if json.Unmarshal([]byte(tt.raw), &u) == nil && tt.raw != "null" {
				if !ok || got != countsOf(u) {
					t.Fatalf("PeekUsage(%s) = %+v, %v; encoding/json reads %+v", tt.raw, got, ok, countsOf(u))
				}
			}
		})
	}
}

func countsOf(u Usage) UsageCounts {
	c := UsageCounts{u.PromptTokens, u.CompletionTokens, u.TotalTokens, 0}
	if u.PromptTokensDetails != nil {
		c.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return c
}

// FuzzPeekUsage checks PeekUsage against encoding/json: whenever
// encoding/json decodes an object into Usage, PeekUsage reads the same
// counts (member names that differ only in case, which encoding/json
// folds, are left out).
func FuzzPeekUsage(f *testing.F) {
	for _, s := range []string{
		`{"prompt_tokens":12,"completion_tokens":24,"total_tokens":36}`,
		`{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":1}}`,
		`{"total_tokens":-3,"x":[1,{"y":null}]}`,
		`{"prompt_tokens_details":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := PeekUsage(raw)
		var u Usage
		if json.Unmarshal(raw, &u) != nil || foldedKeys(raw) {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(raw, &top) != nil || top == nil {
			return // null decodes into Usage without error
		}
		if !ok || got != countsOf(u) {
			t.Fatalf("PeekUsage(%q) = %+v, %v; encoding/json reads %+v", raw, got, ok, countsOf(u))
		}
	})
}

// foldedKeys reports whether raw or its prompt_tokens_details has a member
// whose name matches a Usage field only when case is ignored.
func foldedKeys(raw []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	fields := []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details", "cached_tokens", "audio_tokens"}
	check := func(m map[string]json.RawMessage) bool {
		for k := range m {
			for _, f := range fields {
				if k != f && strings.EqualFold(k, f) {
					return true
				}
			}
		}
		return false
	}
	if check(top) {
		return true
	}
	var details map[string]json.RawMessage
	if d, ok := top["prompt_tokens_details"]; ok && json.Unmarshal(d, &details) == nil {
		return check(details)
	}
	return false
}

// TestPeekUsageReusesItsScratch checks that reading a usage object does
// not allocate once PeekUsage's scratch object exists (the race detector
// empties sync.Pools at random, so the count is only checked without it).
func TestPeekUsageReusesItsScratch(t *testing.T) {
	raw := []byte(`{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_tokens_details":{"cached_tokens":64}}`)
	PeekUsage(raw)
	allocs := testing.AllocsPerRun(100, func() {
		if c, ok := PeekUsage(raw); !ok || c.CachedTokens != 64 {
			t.Fatalf("PeekUsage = %+v, %v", c, ok)
		}
	})
	if !raceEnabled && allocs != 0 {
		t.Fatalf("PeekUsage made %v allocations per call, want 0", allocs)
	}
}
