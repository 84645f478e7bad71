package simupstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func gemBody(prompt, extra string) string {
	p, _ := json.Marshal(prompt)
	return `{"contents":[{"role":"user","parts":[{"text":` + string(p) + `}]}]` + extra + `}`
}

func TestGeminiDialect(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{
		"m-429":    {Fault: Fault{Kind: FaultStatus, Status: 429, RetryAfter: 1500 * time.Millisecond}},
		"m-key":    {Fault: Fault{Kind: FaultStatus, Status: 401}},
		"m-block":  {Fault: Fault{Kind: FaultStatus, Status: 400, Code: "content_filter"}},
		"m-nodone": {Fault: Fault{Kind: FaultNoDone}},
	}})
	for _, c := range conns(t, sim) {
		base := strings.TrimSuffix(c.base, "/v1")
		c.base = base
		t.Run(c.name, func(t *testing.T) {
			resp, body := c.mustDo(t, "/v1beta/models/m:generateContent", gemBody("hello there", `,"generationConfig":{"maxOutputTokens":5}`))
			got := decodeJSON[gemResponse](t, body)
			if resp.StatusCode != 200 || len(got.Candidates) != 1 || got.Candidates[0].FinishReason != "MAX_TOKENS" ||
				got.Candidates[0].Content.Parts[0].Text != sim.Answer("m", "hello there", 5) || got.UsageMetadata.CandidatesTokenCount != 5 {
				t.Errorf("generateContent: %d %s", resp.StatusCode, body)
			}

			resp, body = c.mustDo(t, "/v1beta/models/m:streamGenerateContent?alt=sse", gemBody("hello there", ""))
			events, err := readEvents(strings.NewReader(string(body)))
			if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" || len(events) != DefaultLength {
				t.Fatalf("stream: %v %d events %s", err, len(events), body)
			}
			var text strings.Builder
			for i, e := range events {
				ev := decodeJSON[gemResponse](t, []byte(e))
				text.WriteString(ev.Candidates[0].Content.Parts[0].Text)
				if last := i == len(events)-1; (ev.Candidates[0].FinishReason == "STOP") != last {
					t.Errorf("event %d: %s", i, e)
				}
			}
			if text.String() != sim.Answer("m", "hello there", 0) || strings.Contains(string(body), "[DONE]") {
				t.Errorf("stream text %q", text.String())
			}

			_, body = c.mustDo(t, "/v1beta/models/m-nodone:streamGenerateContent?alt=sse", gemBody("x", ""))
			if strings.Contains(string(body), "finishReason") {
				t.Errorf("no_done stream has a finishReason: %s", body)
			}

			resp, body = c.mustDo(t, "/v1beta/models/m:generateContent", gemBody("call it",
				`,"tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["b"]}}`))
			got = decodeJSON[gemResponse](t, body)
			if fc := got.Candidates[0].Content.Parts[0].FunctionCall; fc == nil || fc.Name != "b" || string(fc.Args) != `{"query":"call it"}` {
				t.Errorf("tool call: %s", body)
			}

			resp, body = c.mustDo(t, "/v1beta/models/m-429:generateContent", gemBody("x", ""))
			if resp.StatusCode != 429 || !strings.Contains(string(body), `"status":"RESOURCE_EXHAUSTED"`) ||
				!strings.Contains(string(body), `"retryDelay":"2s"`) || !strings.Contains(string(body), "PerMinute") {
				t.Errorf("429: %d %s", resp.StatusCode, body)
			}
			resp, body = c.mustDo(t, "/v1beta/models/m-key:generateContent", gemBody("x", ""))
			if resp.StatusCode != 400 || !strings.Contains(string(body), "API_KEY_INVALID") {
				t.Errorf("bad key: %d %s", resp.StatusCode, body)
			}
			resp, body = c.mustDo(t, "/v1beta/models/m-block:generateContent", gemBody("x", ""))
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"blockReason":"SAFETY"`) || strings.Contains(string(body), "candidates") {
				t.Errorf("block: %d %s", resp.StatusCode, body)
			}

			resp, body = c.mustDo(t, "/v1beta/models/e:batchEmbedContents",
				`{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]},"outputDimensionality":4},{"content":{"parts":[{"text":"b"}]}}]}`)
			var emb struct {
				Embeddings []struct {
					Values []float32 `json:"values"`
				} `json:"embeddings"`
			}
			if err := json.Unmarshal(body, &emb); err != nil || resp.StatusCode != 200 || len(emb.Embeddings) != 2 ||
				len(emb.Embeddings[0].Values) != 4 || len(emb.Embeddings[1].Values) != DefaultEmbeddingDims {
				t.Errorf("embeddings: %d %s", resp.StatusCode, body)
			}

			resp, body = c.mustDo(t, "/v1beta/models/m:countTokens", gemBody("x", ""))
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"status":"NOT_FOUND"`) {
				t.Errorf("unknown method: %d %s", resp.StatusCode, body)
			}
		})
	}
}
