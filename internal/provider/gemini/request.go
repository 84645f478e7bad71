package gemini

import (
	"bytes"
	"cmp"
	"encoding/json"
	"mime"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// Gemini request wire types (camelCase JSON, PROTOCOLS §5.1).
type (
	generateRequest struct {
		Contents          []content         `json:"contents"`
		SystemInstruction *content          `json:"systemInstruction,omitempty"`
		Tools             []toolDecl        `json:"tools,omitempty"`
		ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
		GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
	}
	content struct {
		Role  string `json:"role,omitempty"`
		Parts []part `json:"parts"`
	}
	part struct {
		Text             string            `json:"text,omitempty"`
		Thought          bool              `json:"thought,omitempty"`
		ThoughtSignature string            `json:"thoughtSignature,omitempty"`
		InlineData       *blob             `json:"inlineData,omitempty"`
		FileData         *fileData         `json:"fileData,omitempty"`
		FunctionCall     *functionCall     `json:"functionCall,omitempty"`
		FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	}
	blob struct {
		MimeType string `json:"mimeType"`
		Data     string `json:"data"`
	}
	fileData struct {
		MimeType string `json:"mimeType,omitempty"`
		FileURI  string `json:"fileUri"`
	}
	functionCall struct {
		ID   string          `json:"id,omitempty"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args,omitempty"`
	}
	functionResponse struct {
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	}
	toolDecl struct {
		FunctionDeclarations []functionDecl `json:"functionDeclarations"`
	}
	functionDecl struct {
		Name                 string          `json:"name"`
		Description          string          `json:"description,omitempty"`
		ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
	}
	toolConfig struct {
		FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
	}
	functionCallingConfig struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
	}
	generationConfig struct {
		Temperature        *float64        `json:"temperature,omitempty"`
		TopP               *float64        `json:"topP,omitempty"`
		MaxOutputTokens    *int            `json:"maxOutputTokens,omitempty"`
		StopSequences      []string        `json:"stopSequences,omitempty"`
		CandidateCount     *int            `json:"candidateCount,omitempty"`
		Seed               *int64          `json:"seed,omitempty"`
		PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
		FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
		ResponseMimeType   string          `json:"responseMimeType,omitempty"`
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
		ThinkingConfig     *thinkingConfig `json:"thinkingConfig,omitempty"`
	}
	thinkingConfig struct {
		ThinkingBudget int `json:"thinkingBudget"`
	}
)

// The OpenAI chat request as this adapter reads it: the fields it
// translates. Fields Gemini has no equivalent for (logit_bias, user,
// metadata, ...) are dropped.
type (
	chatRequest struct {
		Model               string          `json:"model"`
		Messages            []chatMessage   `json:"messages"`
		Stream              bool            `json:"stream"`
		MaxTokens           *int            `json:"max_tokens"`
		MaxCompletionTokens *int            `json:"max_completion_tokens"`
		Temperature         *float64        `json:"temperature"`
		TopP                *float64        `json:"top_p"`
		N                   *int            `json:"n"`
		Stop                json.RawMessage `json:"stop"`
		Seed                *int64          `json:"seed"`
		PresencePenalty     *float64        `json:"presence_penalty"`
		FrequencyPenalty    *float64        `json:"frequency_penalty"`
		ResponseFormat      *responseFormat `json:"response_format"`
		Tools               []openai.Tool   `json:"tools"`
		ToolChoice          json.RawMessage `json:"tool_choice"`
		ReasoningEffort     string          `json:"reasoning_effort"`
	}
	chatMessage struct {
		Role       string            `json:"role"`
		Content    json.RawMessage   `json:"content"`
		ToolCalls  []openai.ToolCall `json:"tool_calls"`
		ToolCallID string            `json:"tool_call_id"`
	}
	contentPart struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
		InputAudio *struct {
			Data   string `json:"data"`
			Format string `json:"format"`
		} `json:"input_audio"`
		File *struct {
			FileID   string `json:"file_id"`
			FileData string `json:"file_data"`
		} `json:"file"`
	}
	responseFormat struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
)

// skipSignature is the thoughtSignature Google documents for function
// calls in histories it did not produce: OpenAI clients do not echo
// Gemini's signatures, and Gemini 3 rejects a call turn without one.
const skipSignature = "skip_thought_signature_validator"

// maxStopSequences is Gemini's limit on stopSequences.
const maxStopSequences = 5

// chatCall is a translated chat request.
type chatCall struct {
	model   string
	body    []byte
	stream  bool
	choices int // candidateCount asked for, at least 1
}

// translateChat turns an OpenAI chat completion request into a Gemini
// generateContent request (PROTOCOLS §5.5).
func translateChat(body []byte) (*chatCall, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("", "the request body is not a valid chat completion request: %v", err)
	}
	if req.Model == "" {
		return nil, badRequest("model", "required")
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "must contain at least one message")
	}
	out := generateRequest{}
	if err := translateMessages(&out, req.Messages); err != nil {
		return nil, err
	}
	if err := translateTools(&out, &req); err != nil {
		return nil, err
	}
	gc, err := translateConfig(&req)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	b, err := json.Marshal(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Gemini request: %v", err)
	}
	n := 1
	if req.N != nil && *req.N > 1 {
		n = *req.N
	}
	return &chatCall{model: req.Model, body: b, stream: req.Stream, choices: n}, nil
}

// translateMessages fills systemInstruction and contents.
func translateMessages(out *generateRequest, msgs []chatMessage) error {
	names := map[string]string{} // tool_call_id → function name
	lastTool := false
	for i, m := range msgs {
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case openai.RoleSystem, openai.RoleDeveloper:
			text := openai.ChatMessage{Content: m.Content}.Text()
			if text == "" {
				continue
			}
			if out.SystemInstruction == nil {
				out.SystemInstruction = &content{}
			}
			out.SystemInstruction.Parts = append(out.SystemInstruction.Parts, part{Text: text})
		case openai.RoleUser:
			parts, err := userParts(param, m.Content)
			if err != nil {
				return err
			}
			if len(parts) > 0 {
				out.Contents = append(out.Contents, content{Role: "user", Parts: parts})
			}
		case openai.RoleAssistant:
			parts, err := assistantParts(param, m, names)
			if err != nil {
				return err
			}
			if len(parts) > 0 {
				out.Contents = append(out.Contents, content{Role: "model", Parts: parts})
			}
		case openai.RoleTool:
			name, ok := names[m.ToolCallID]
			if !ok {
				return badRequest(param+".tool_call_id", "%q does not match a tool call of an earlier assistant message", m.ToolCallID)
			}
			p := part{FunctionResponse: &functionResponse{Name: name, Response: toolResponse(m.Content)}}
			// The results of one turn's calls go back together, in one content.
			if lastTool {
				last := &out.Contents[len(out.Contents)-1]
				last.Parts = append(last.Parts, p)
			} else {
				out.Contents = append(out.Contents, content{Role: "user", Parts: []part{p}})
			}
		default:
			return badRequest(param+".role", "unsupported role %q for a Gemini channel", m.Role)
		}
		lastTool = m.Role == openai.RoleTool
	}
	if len(out.Contents) == 0 {
		return badRequest("messages", "must contain at least one user or assistant message with content")
	}
	return nil
}

// userParts translates a user message's content.
func userParts(param string, raw json.RawMessage) ([]part, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		if text := (openai.ChatMessage{Content: raw}).Text(); text != "" {
			return []part{{Text: text}}, nil
		}
		return nil, nil
	}
	var cps []contentPart
	if err := json.Unmarshal(raw, &cps); err != nil {
		return nil, badRequest(param+".content", "invalid content parts: %v", err)
	}
	parts := make([]part, 0, len(cps))
	for j, cp := range cps {
		p, err := userPart(param+".content["+strconv.Itoa(j)+"]", cp)
		if err != nil {
			return nil, err
		}
		if p != nil {
			parts = append(parts, *p)
		}
	}
	return parts, nil
}

func userPart(param string, cp contentPart) (*part, error) {
	switch cp.Type {
	case "text":
		if cp.Text == "" {
			return nil, nil
		}
		return &part{Text: cp.Text}, nil
	case "image_url":
		if cp.ImageURL == nil || cp.ImageURL.URL == "" {
			return nil, badRequest(param+".image_url.url", "required")
		}
		return mediaPart(param+".image_url.url", cp.ImageURL.URL, "image/jpeg")
	case "input_audio":
		if cp.InputAudio == nil || cp.InputAudio.Data == "" {
			return nil, badRequest(param+".input_audio", "data is required")
		}
		return &part{InlineData: &blob{MimeType: "audio/" + cmp.Or(cp.InputAudio.Format, "wav"), Data: cp.InputAudio.Data}}, nil
	case "file":
		if cp.File == nil || cp.File.FileData == "" {
			return nil, badRequest(param+".file", "only inline file_data is supported by Gemini channels, not file_id")
		}
		return mediaPart(param+".file.file_data", cp.File.FileData, "application/pdf")
	}
	return nil, badRequest(param+".type", "unsupported content part type %q for a Gemini channel", cp.Type)
}

// mediaPart turns a data URL into inlineData, and any other URL into
// fileData whose MIME type is guessed from the path's extension (def when
// unknown). Gemini fetches fileData itself; it accepts its own file URIs,
// gs:// URIs and (on recent models) public http(s) URLs.
func mediaPart(param, ref, def string) (*part, error) {
	if rest, ok := strings.CutPrefix(ref, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		mt, enc, _ := strings.Cut(meta, ";")
		if !found || enc != "base64" || data == "" {
			return nil, badRequest(param, "a data URL must be base64-encoded (data:<type>;base64,<data>)")
		}
		return &part{InlineData: &blob{MimeType: cmp.Or(mt, def), Data: data}}, nil
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" {
		return nil, badRequest(param, "not a URL or data URL")
	}
	mt := mime.TypeByExtension(strings.ToLower(path.Ext(u.Path)))
	mt, _, _ = strings.Cut(mt, ";")
	return &part{FileData: &fileData{MimeType: cmp.Or(mt, def), FileURI: ref}}, nil
}

// assistantParts translates an assistant turn: its text, then its tool
// calls, recording each call's name for the tool messages that follow.
func assistantParts(param string, m chatMessage, names map[string]string) ([]part, error) {
	var parts []part
	if text := (openai.ChatMessage{Content: m.Content}).Text(); text != "" {
		parts = append(parts, part{Text: text})
	}
	for j, tc := range m.ToolCalls {
		if tc.Function.Name == "" {
			return nil, badRequest(param+".tool_calls["+strconv.Itoa(j)+"].function.name", "required")
		}
		names[tc.ID] = tc.Function.Name
		p := part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: callArgs(tc.Function.Arguments)}}
		if j == 0 {
			p.ThoughtSignature = skipSignature
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// callArgs turns a call's arguments string into the object Gemini wants:
// a JSON object as is, "" as {}, anything else (invalid or non-object
// JSON, which models sometimes produce) wrapped as {"arguments": <string>}.
func callArgs(s string) json.RawMessage {
	t := bytes.TrimSpace([]byte(s))
	if len(t) == 0 {
		return json.RawMessage(`{}`)
	}
	if t[0] == '{' && json.Valid(t) {
		return t
	}
	b, _ := json.Marshal(map[string]string{"arguments": s})
	return b
}

// toolResponse turns a tool message's content into functionResponse's
// response object: a JSON object as is, anything else as {"result": ...}.
func toolResponse(raw json.RawMessage) json.RawMessage {
	text := openai.ChatMessage{Content: raw}.Text()
	if t := bytes.TrimSpace([]byte(text)); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t
	}
	b, _ := json.Marshal(map[string]string{"result": text})
	return b
}

// translateTools fills tools and toolConfig.
func translateTools(out *generateRequest, req *chatRequest) error {
	if len(req.Tools) == 0 {
		return nil
	}
	decls := make([]functionDecl, 0, len(req.Tools))
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return badRequest("tools["+strconv.Itoa(i)+"].type", "unsupported tool type %q for a Gemini channel", t.Type)
		}
		if t.Function.Name == "" {
			return badRequest("tools["+strconv.Itoa(i)+"].function.name", "required")
		}
		decls = append(decls, functionDecl{Name: t.Function.Name, Description: t.Function.Description,
			ParametersJSONSchema: t.Function.Parameters})
	}
	out.Tools = []toolDecl{{FunctionDeclarations: decls}}
	oreq := openai.ChatCompletionRequest{Tools: req.Tools, ToolChoice: req.ToolChoice}
	mode, name := oreq.ToolChoiceMode()
	fc := functionCallingConfig{Mode: "AUTO"}
	switch mode {
	case "none":
		fc.Mode = "NONE"
	case "required":
		fc.Mode = "ANY"
	case "function":
		fc.Mode, fc.AllowedFunctionNames = "ANY", []string{name}
	}
	out.ToolConfig = &toolConfig{FunctionCallingConfig: fc}
	return nil
}

// translateConfig builds generationConfig, or nil when nothing is set.
func translateConfig(req *chatRequest) (*generationConfig, error) {
	gc := generationConfig{
		Temperature: req.Temperature, TopP: req.TopP, Seed: req.Seed,
		PresencePenalty: req.PresencePenalty, FrequencyPenalty: req.FrequencyPenalty,
	}
	switch {
	case req.MaxCompletionTokens != nil:
		gc.MaxOutputTokens = req.MaxCompletionTokens
	case req.MaxTokens != nil:
		gc.MaxOutputTokens = req.MaxTokens
	}
	if req.N != nil && *req.N != 1 {
		gc.CandidateCount = req.N
	}
	stop, err := stopSequences(req.Stop)
	if err != nil {
		return nil, err
	}
	gc.StopSequences = stop
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if rf.JSONSchema != nil && len(rf.JSONSchema.Schema) > 0 {
				gc.ResponseJSONSchema = rf.JSONSchema.Schema
			}
		case "text", "":
		default:
			return nil, badRequest("response_format.type", "unsupported %q", rf.Type)
		}
	}
	if b, ok := thinkingBudget(req.ReasoningEffort); ok {
		gc.ThinkingConfig = &thinkingConfig{ThinkingBudget: b}
	}
	if b, _ := json.Marshal(gc); string(b) == "{}" {
		return nil, nil
	}
	return &gc, nil
}

// thinkingBudget maps reasoning_effort to Gemini 2.5's thinkingBudget
// (tokens); "none" turns thinking off where the model allows it.
func thinkingBudget(effort string) (int, bool) {
	switch effort {
	case "none":
		return 0, true
	case "minimal":
		return 512, true
	case "low":
		return 1024, true
	case "medium":
		return 8192, true
	case "high":
		return 24576, true
	case "xhigh", "max":
		return 32768, true
	}
	return 0, false
}

// stopSequences reads "stop": a string or an array of at most 5 strings.
func stopSequences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "must be a string or an array of strings")
	}
	if len(many) > maxStopSequences {
		return nil, badRequest("stop", "Gemini accepts at most %d stop sequences, got %d", maxStopSequences, len(many))
	}
	return many, nil
}
