package simupstream

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// The Gemini dialect: POST /v1beta/models/{model}:generateContent,
// :streamGenerateContent?alt=sse and :batchEmbedContents, answered in the
// format of Google's generativelanguage API (PROTOCOLS §5) with the same
// words, tool calls, vectors, timing and faults as the OpenAI endpoints:
// a chat with the same model and last user text gets Answer's text.
// Differences that follow the dialect: streams have no end marker (the
// last event carries finishReason and the usage), so the "no_done" fault
// ends a stream before its finishReason; "status" faults answer with
// Gemini error bodies (429 is RESOURCE_EXHAUSTED with RetryInfo, code
// "insufficient_quota" a per-day QuotaFailure, 401 the 400
// INVALID_ARGUMENT / API_KEY_INVALID Gemini sends for a bad key, code
// "context_length_exceeded" Gemini's input-token-count message); and code
// "content_filter" is a prompt blocked for SAFETY: status 200 with
// promptFeedback.blockReason and no candidates. Function calls carry no id.

// Gemini request fields the simulator reads.
type (
	gemRequest struct {
		Contents          []gemContent `json:"contents"`
		SystemInstruction *gemContent  `json:"systemInstruction"`
		Tools             []struct {
			FunctionDeclarations []struct {
				Name string `json:"name"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		ToolConfig *struct {
			FunctionCallingConfig struct {
				Mode                 string   `json:"mode"`
				AllowedFunctionNames []string `json:"allowedFunctionNames"`
			} `json:"functionCallingConfig"`
		} `json:"toolConfig"`
		GenerationConfig *struct {
			MaxOutputTokens *int `json:"maxOutputTokens"`
		} `json:"generationConfig"`
	}
	gemContent struct {
		Role  string    `json:"role,omitempty"`
		Parts []gemPart `json:"parts"`
	}
	gemPart struct {
		Text         string           `json:"text,omitempty"`
		FunctionCall *gemFunctionCall `json:"functionCall,omitempty"`
	}
	gemFunctionCall struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	}
	gemCandidate struct {
		Content      gemContent `json:"content"`
		FinishReason string     `json:"finishReason,omitempty"`
		Index        int        `json:"index"`
	}
	gemUsage struct {
		PromptTokenCount     int64 `json:"promptTokenCount"`
		CandidatesTokenCount int64 `json:"candidatesTokenCount,omitempty"`
		TotalTokenCount      int64 `json:"totalTokenCount"`
	}
	gemResponse struct {
		Candidates     []gemCandidate `json:"candidates,omitempty"`
		PromptFeedback *struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback,omitempty"`
		UsageMetadata *gemUsage `json:"usageMetadata,omitempty"`
		ModelVersion  string    `json:"modelVersion"`
		ResponseID    string    `json:"responseId"`
	}
	gemEmbedRequest struct {
		Requests []struct {
			Content              gemContent `json:"content"`
			OutputDimensionality *int       `json:"outputDimensionality"`
		} `json:"requests"`
	}
)

// serveGemini answers the Gemini dialect; path is below /v1beta.
func (s *Simulator) serveGemini(w http.ResponseWriter, r *http.Request, id, path string) {
	model, method, ok := strings.Cut(strings.TrimPrefix(path, "/models/"), ":")
	if !strings.HasPrefix(path, "/models/") || !ok || model == "" {
		writeGemError(w, http.StatusNotFound, "NOT_FOUND", "Unknown path "+r.URL.Path+".", nil)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeGemError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Use POST for "+r.URL.Path+".", nil)
		return
	}
	switch method {
	case "generateContent":
		s.serveGemGenerate(w, r, id, model, false)
	case "streamGenerateContent":
		s.serveGemGenerate(w, r, id, model, r.URL.Query().Get("alt") == "sse")
	case "batchEmbedContents":
		s.serveGemEmbed(w, r, id, model)
	default:
		writeGemError(w, http.StatusNotFound, "NOT_FOUND", "Method "+method+" is not supported by the simulator.", nil)
	}
}

// readGem decodes a Gemini request body, answering 400 when it cannot.
func readGem(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), nil)
		return nil, false
	}
	return raw, true
}

// gemPreamble is preamble with Gemini-shaped "status" faults.
func gemPreamble(w http.ResponseWriter, r *http.Request, c *call, stream bool) bool {
	if c.fault.Kind != FaultStatus {
		return preamble(w, r, c)
	}
	if sleep(r.Context(), c.profile.Latency) != nil {
		return false
	}
	if c.fault.Code == "content_filter" {
		blocked := gemResponse{PromptFeedback: &struct {
			BlockReason string `json:"blockReason"`
		}{"SAFETY"}, UsageMetadata: &gemUsage{PromptTokenCount: 1, TotalTokenCount: 1}, ModelVersion: c.model, ResponseID: c.id}
		if stream {
			startGemStream(w)
			st := newStreamer(w, r, c, &streamPlan{}, "")
			_ = st.raw(string(mustJSON(blocked)))
			return false
		}
		writeValue(w, http.StatusOK, blocked)
		return false
	}
	writeGemFault(w, c.model, c.fault)
	return false
}

// serveGemGenerate answers generateContent and streamGenerateContent.
func (s *Simulator) serveGemGenerate(w http.ResponseWriter, r *http.Request, id, model string, stream bool) {
	var req gemRequest
	raw, ok := readGem(w, r, &req)
	if !ok {
		return
	}
	if len(req.Contents) == 0 {
		writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified", nil)
		return
	}
	c := s.begin(model, id, raw)
	if !gemPreamble(w, r, c, stream) {
		return
	}
	prompt, prefill, isPrefill := gemPrompt(req.Contents)
	if isPrefill && c.profile.RejectPrefill {
		writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", prefillMessage, nil)
		return
	}
	u := &gemUsage{PromptTokenCount: gemPromptTokens(&req)}
	if c.fault.Kind == FaultNoUsage {
		u = nil
	}
	var events []gemCandidate // one per stream event; joined for non-stream
	if name, ok := gemToolName(&req); ok {
		tc := makeToolCall(model, prompt, name)
		events = []gemCandidate{{Content: gemContent{Role: "model", Parts: []gemPart{{FunctionCall: &gemFunctionCall{
			Name: tc.name, Args: json.RawMessage(tc.args)}}}}, FinishReason: "STOP"}}
		setGemCompletion(u, int64(len(splitFragments(tc.args))+1))
	} else {
		maxTokens := 0
		if gc := req.GenerationConfig; gc != nil && gc.MaxOutputTokens != nil {
			maxTokens = *gc.MaxOutputTokens
		}
		toks, finish := answerTokens(model, prompt, c.profile.Length, maxTokens)
		if isPrefill {
			toks = continueAnswer(toks, prefill)
		}
		setGemCompletion(u, int64(len(toks)))
		for _, t := range toks {
			events = append(events, gemCandidate{Content: gemContent{Role: "model", Parts: []gemPart{{Text: t}}}})
		}
		if len(events) == 0 {
			events = append(events, gemCandidate{Content: gemContent{Role: "model", Parts: []gemPart{{Text: ""}}}})
		}
		events[len(events)-1].FinishReason = "STOP"
		if finish == openai.FinishLength {
			events[len(events)-1].FinishReason = "MAX_TOKENS"
		}
	}
	if stream {
		s.runGemStream(w, r, c, events, u)
		return
	}
	whole := events[0]
	if len(events) > 1 {
		var text strings.Builder
		for _, e := range events {
			text.WriteString(e.Content.Parts[0].Text)
		}
		whole.Content.Parts = []gemPart{{Text: text.String()}}
		whole.FinishReason = events[len(events)-1].FinishReason
	}
	respond(w, r, c, gemResponse{Candidates: []gemCandidate{whole}, UsageMetadata: u, ModelVersion: model, ResponseID: c.id})
}

// runGemStream sends one event per candidate piece, the last with the
// finish reason and the full usage, pacing and faults as runStream.
func (s *Simulator) runGemStream(w http.ResponseWriter, r *http.Request, c *call, events []gemCandidate, u *gemUsage) {
	startGemStream(w)
	st := newStreamer(w, r, c, &streamPlan{}, "")
	if st.rc.Flush() != nil {
		return
	}
	delay := c.profile.FirstTokenDelay
	if c.fault.Kind == FaultSlowFirstToken {
		delay += c.fault.Delay
	}
	if sleep(st.ctx, delay) != nil {
		return
	}
	var interval time.Duration
	if tps := c.profile.TokensPerSecond; tps > 0 {
		interval = time.Duration(float64(time.Second) / tps)
	}
	at := min(max(c.fault.After, 0), len(events))
	partial := &gemUsage{}
	if u != nil {
		partial.PromptTokenCount, partial.TotalTokenCount = u.PromptTokenCount, u.PromptTokenCount
	}
	for i, ev := range events {
		if i == at && !st.midStreamFault(c.fault) {
			return
		}
		if i > 0 && sleep(st.ctx, interval) != nil {
			return
		}
		last := i == len(events)-1
		if last && c.fault.Kind == FaultNoDone {
			ev.FinishReason = "" // the stream ends without its finish
		}
		out := gemResponse{Candidates: []gemCandidate{ev}, ModelVersion: c.model, ResponseID: c.id}
		if u != nil {
			out.UsageMetadata = partial
			if last {
				out.UsageMetadata = u
			}
		}
		if st.raw(string(mustJSON(out))) != nil {
			return
		}
	}
	if at == len(events) {
		st.midStreamFault(c.fault)
	}
}

func startGemStream(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// gemPrompt returns the text of the last user content, and the text of a
// trailing model turn without function calls (an assistant prefill).
func gemPrompt(contents []gemContent) (prompt, prefill string, isPrefill bool) {
	if last := contents[len(contents)-1]; last.Role == "model" {
		isPrefill = true
		for _, p := range last.Parts {
			if p.FunctionCall != nil {
				isPrefill = false
			}
		}
		if isPrefill {
			prefill = gemText(last)
		}
	}
	for i := len(contents) - 1; i >= 0; i-- {
		if contents[i].Role != "model" {
			if t := gemText(contents[i]); t != "" {
				return t, prefill, isPrefill
			}
		}
	}
	return "", prefill, isPrefill
}

// gemText joins a content's text parts with "\n", as OpenAI text parts are.
func gemText(c gemContent) string {
	var texts []string
	for _, p := range c.Parts {
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// gemToolName returns the function to call, if the request allows one.
func gemToolName(req *gemRequest) (string, bool) {
	var first string
	for _, t := range req.Tools {
		for _, d := range t.FunctionDeclarations {
			if first == "" {
				first = d.Name
			}
		}
	}
	if first == "" {
		return "", false
	}
	if tc := req.ToolConfig; tc != nil {
		fc := tc.FunctionCallingConfig
		if fc.Mode == "NONE" {
			return "", false
		}
		if fc.Mode == "ANY" && len(fc.AllowedFunctionNames) > 0 {
			return fc.AllowedFunctionNames[0], true
		}
	}
	return first, true
}

// gemPromptTokens estimates prompt tokens: words plus 3 per content.
func gemPromptTokens(req *gemRequest) int64 {
	var n int64
	if si := req.SystemInstruction; si != nil {
		n += int64(countWords(gemText(*si)) + 3)
	}
	for _, c := range req.Contents {
		n += int64(countWords(gemText(c)) + 3)
	}
	return n
}

func setGemCompletion(u *gemUsage, n int64) {
	if u != nil {
		u.CandidatesTokenCount = n
		u.TotalTokenCount = u.PromptTokenCount + n
	}
}

// serveGemEmbed answers batchEmbedContents.
func (s *Simulator) serveGemEmbed(w http.ResponseWriter, r *http.Request, id, model string) {
	var req gemEmbedRequest
	raw, ok := readGem(w, r, &req)
	if !ok {
		return
	}
	if len(req.Requests) == 0 {
		writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: at least one request is required", nil)
		return
	}
	for i, e := range req.Requests {
		if gemText(e.Content) == "" {
			writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests["+strconv.Itoa(i)+"].content: must contain text", nil)
			return
		}
		if d := e.OutputDimensionality; d != nil && (*d < 1 || *d > maxEmbeddingDims) {
			writeGemError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "outputDimensionality must be between 1 and "+strconv.Itoa(maxEmbeddingDims)+".", nil)
			return
		}
	}
	c := s.begin(model, id, raw)
	if !gemPreamble(w, r, c, false) {
		return
	}
	type values struct {
		Values json.RawMessage `json:"values"`
	}
	out := struct {
		Embeddings []values `json:"embeddings"`
	}{Embeddings: make([]values, len(req.Requests))}
	for i, e := range req.Requests {
		dims := c.profile.EmbeddingDims
		if e.OutputDimensionality != nil {
			dims = *e.OutputDimensionality
		}
		if dims <= 0 {
			dims = DefaultEmbeddingDims
		}
		out.Embeddings[i].Values = openai.AppendFloat32Array(nil, embedding(gemText(e.Content), dims))
	}
	respond(w, r, c, out)
}

// writeGemFault writes the Gemini error of a "status" fault.
func writeGemFault(w http.ResponseWriter, model string, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	var details []map[string]any
	name, msg := "INTERNAL", "An internal error has occurred. (simulated)"
	switch {
	case status == http.StatusTooManyRequests:
		name = "RESOURCE_EXHAUSTED"
		quota := "GenerateRequestsPerMinutePerProjectPerModel"
		msg = "You exceeded your current quota, please check your plan and billing details. (simulated)"
		if f.Code == "insufficient_quota" {
			quota = "GenerateRequestsPerDayPerProjectPerModel"
		}
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
			"violations": []map[string]string{{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
				"quotaId": quota, "quotaDimensions": model}}})
		if f.RetryAfter > 0 {
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": strconv.FormatInt(int64(secs), 10) + "s"})
		}
	case status == http.StatusUnauthorized:
		status, name, msg = http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key. (simulated)"
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "API_KEY_INVALID", "domain": "googleapis.com"})
	case status == http.StatusForbidden:
		name, msg = "PERMISSION_DENIED", "Permission denied on "+model+". (simulated)"
	case status == http.StatusNotFound:
		name, msg = "NOT_FOUND", "models/"+model+" is not found for API version v1beta. (simulated)"
	case status == http.StatusServiceUnavailable:
		name, msg = "UNAVAILABLE", "The model is overloaded. Please try again later. (simulated)"
	case status == http.StatusGatewayTimeout:
		name, msg = "DEADLINE_EXCEEDED", "Deadline exceeded. (simulated)"
	case status < 500:
		name, msg = "INVALID_ARGUMENT", "Request contains an invalid argument. (simulated)"
		if f.Code == "context_length_exceeded" {
			msg = "The input token count (9000) exceeds the maximum number of tokens allowed (8192)."
		}
	}
	if f.Message != "" {
		msg = f.Message
	}
	writeGemError(w, status, name, msg, details)
}

// writeGemError answers with a Gemini error body.
func writeGemError(w http.ResponseWriter, status int, name, msg string, details []map[string]any) {
	body := map[string]any{"code": status, "message": msg, "status": name}
	if details != nil {
		body["details"] = details
	}
	writeValue(w, status, map[string]any{"error": body})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are encoded
	}
	return b
}
