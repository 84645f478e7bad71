package responses

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Meta is what translating an answer needs from its request.
type Meta struct {
	// ID is the response id, "resp_" and the request id.
	ID string
	// CreatedAt is when the request arrived, in Unix seconds.
	CreatedAt int64
	// Echo is the request's parameters the response repeats.
	Echo Echo
}

// Response is the response object ("object": "response").
type Response struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	CreatedAt         int64           `json:"created_at"`
	Status            string          `json:"status"`
	Error             *ErrorInfo      `json:"error"`
	IncompleteDetails *Incomplete     `json:"incomplete_details"`
	Instructions      *string         `json:"instructions"`
	MaxOutputTokens   *int64          `json:"max_output_tokens"`
	Model             string          `json:"model"`
	Output            []Item          `json:"output"`
	ParallelToolCalls bool            `json:"parallel_tool_calls"`
	Reasoning         json.RawMessage `json:"reasoning"`
	Store             bool            `json:"store"`
	Temperature       *float64        `json:"temperature"`
	Text              json.RawMessage `json:"text"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	Tools             json.RawMessage `json:"tools"`
	TopP              *float64        `json:"top_p"`
	Truncation        string          `json:"truncation"`
	Usage             *Usage          `json:"usage"`
	User              *string         `json:"user,omitempty"`
	Metadata          json.RawMessage `json:"metadata"`
}

// Response statuses.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// ErrorInfo is the error of a failed response.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Incomplete says why a response is incomplete: "max_output_tokens" or
// "content_filter".
type Incomplete struct {
	Reason string `json:"reason"`
}

// Item is one output item: a "message" (Role, Content) or a
// "function_call" (CallID, Name, Arguments).
type Item struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Status    string  `json:"status"`
	Role      string  `json:"role,omitempty"`
	Content   *[]Part `json:"content,omitempty"`
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Arguments *string `json:"arguments,omitempty"`
}

// Part is one content part of a message item: "output_text" (Text,
// Annotations) or "refusal" (Refusal).
type Part struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	Annotations *[]any  `json:"annotations,omitempty"`
	Logprobs    *[]any  `json:"logprobs,omitempty"`
	Refusal     *string `json:"refusal,omitempty"`
}

// Usage is the token accounting of a response. InputTokens includes cached
// tokens and OutputTokens includes reasoning tokens.
type Usage struct {
	InputTokens         int64        `json:"input_tokens"`
	InputTokensDetails  InputDetail  `json:"input_tokens_details"`
	OutputTokens        int64        `json:"output_tokens"`
	OutputTokensDetails OutputDetail `json:"output_tokens_details"`
	TotalTokens         int64        `json:"total_tokens"`
}

// InputDetail breaks down Usage.InputTokens.
type InputDetail struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// OutputDetail breaks down Usage.OutputTokens.
type OutputDetail struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// chatUsage is the usage object of a chat answer.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *chatUsage) toUsage() *Usage {
	if u == nil {
		return nil
	}
	out := &Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	if u.PromptTokensDetails != nil {
		out.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.OutputTokensDetails.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}

// chatCompletion is the part of a chat.completion body the translation reads.
type chatCompletion struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// newResponse starts a response object with the request's echo fields.
func (m *Meta) newResponse(status string) *Response {
	e := &m.Echo
	r := &Response{ID: m.ID, Object: "response", CreatedAt: m.CreatedAt, Status: status, Model: e.Model, Output: []Item{},
		Instructions: e.Instructions, MaxOutputTokens: e.MaxOutputTokens, ParallelToolCalls: true,
		Temperature: e.Temperature, TopP: e.TopP, Truncation: "disabled",
		Reasoning: orDefault(e.Reasoning, `{"effort":null,"summary":null}`), Text: orDefault(e.Text, `{"format":{"type":"text"}}`),
		ToolChoice: orDefault(e.ToolChoice, `"auto"`), Tools: orDefault(e.Tools, `[]`), Metadata: orDefault(e.Metadata, `{}`)}
	if e.ParallelToolCalls != nil {
		r.ParallelToolCalls = *e.ParallelToolCalls
	}
	if e.User != "" {
		r.User = &e.User
	}
	return r
}

// finish sets the status a chat finish reason implies.
func (r *Response) finish(reason string) {
	switch reason {
	case "length":
		r.Status, r.IncompleteDetails = StatusIncomplete, &Incomplete{Reason: "max_output_tokens"}
	case "content_filter":
		r.Status, r.IncompleteDetails = StatusIncomplete, &Incomplete{Reason: "content_filter"}
	default:
		r.Status = StatusCompleted
	}
}

// TranslateBody translates a chat.completion body into a response object.
// The first choice is used; the simulator and tollgate's clients ask for
// one. An error means the body is not a chat completion.
func TranslateBody(chat []byte, m Meta) ([]byte, error) {
	var cc chatCompletion
	if err := json.Unmarshal(chat, &cc); err != nil {
		return nil, fmt.Errorf("decoding the chat completion: %w", err)
	}
	if len(cc.Choices) == 0 {
		return nil, fmt.Errorf("the chat completion has no choices")
	}
	if cc.Model != "" {
		m.Echo.Model = cc.Model
	}
	r := m.newResponse(StatusCompleted)
	ch := cc.Choices[0]
	var parts []Part
	if c := ch.Message.Content; c != nil && *c != "" {
		parts = append(parts, textPart(*c))
	}
	if rf := ch.Message.Refusal; rf != nil && *rf != "" {
		parts = append(parts, refusalPart(*rf))
	}
	if len(parts) > 0 {
		r.Output = append(r.Output, Item{ID: m.itemID("msg", 0), Type: "message", Status: StatusCompleted, Role: "assistant", Content: &parts})
	}
	for i, tc := range ch.Message.ToolCalls {
		args := tc.Function.Arguments
		r.Output = append(r.Output, Item{ID: m.itemID("fc", i), Type: "function_call", Status: StatusCompleted,
			CallID: m.callID(tc.ID, i), Name: tc.Function.Name, Arguments: &args})
	}
	r.finish(ch.FinishReason)
	r.Usage = cc.Usage.toUsage()
	return json.Marshal(r)
}

// itemID names output item n of a kind ("msg" or "fc"), unique in the response.
func (m *Meta) itemID(kind string, n int) string {
	return kind + "_" + m.ID + "_" + strconv.Itoa(n)
}

// callID is the upstream's tool call id, or one made up when it sent none.
func (m *Meta) callID(id string, n int) string {
	if id != "" {
		return id
	}
	return "call_" + m.ID + "_" + strconv.Itoa(n)
}

func textPart(s string) Part {
	return Part{Type: "output_text", Text: &s, Annotations: &[]any{}, Logprobs: &[]any{}}
}

func refusalPart(s string) Part {
	return Part{Type: "refusal", Refusal: &s}
}

func orDefault(raw json.RawMessage, def string) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage(def)
	}
	return raw
}
