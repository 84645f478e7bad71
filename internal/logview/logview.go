// Package logview turns request log records into the JSON shapes the
// admin API and the CLI print, and parses the filters both accept, so
// `tollgate logs --json` and GET /admin/logs agree field for field. It
// holds no state; its functions are safe for concurrent use.
package logview

import (
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

// Row is one request log row. Durations are milliseconds with microsecond
// precision; Cost is a decimal string in the configured currency.
type Row struct {
	RequestID         string       `json:"request_id"`
	Time              time.Time    `json:"time"`
	KeyID             string       `json:"key_id"`
	KeyMasked         string       `json:"key_masked"`
	KeyName           string       `json:"key_name"`
	Owner             string       `json:"owner"`
	Group             string       `json:"group"`
	ClientIP          string       `json:"client_ip"`
	UserAgent         string       `json:"user_agent"`
	Endpoint          string       `json:"endpoint"`
	ModelRequested    string       `json:"model_requested"`
	ModelServed       string       `json:"model_served"`
	Channel           string       `json:"channel"`
	UpstreamRequestID string       `json:"upstream_request_id"`
	Stream            bool         `json:"stream"`
	Status            int          `json:"status"`
	ErrorType         string       `json:"error_type"`
	ErrorMessage      string       `json:"error_message"`
	FailedPhase       string       `json:"failed_phase"`
	Attempts          int          `json:"attempts"`
	RetryReasons      string       `json:"retry_reasons"`
	Fallback          bool         `json:"fallback"`
	Continued         bool         `json:"continued"`
	Truncated         bool         `json:"truncated"`
	FinishReason      string       `json:"finish_reason"`
	TTFBMillis        float64      `json:"ttfb_ms"`
	TTFTMillis        float64      `json:"ttft_ms"`
	DurationMillis    float64      `json:"duration_ms"`
	RequestBytes      int64        `json:"request_bytes"`
	ResponseBytes     int64        `json:"response_bytes"`
	PromptTokens      int64        `json:"prompt_tokens"`
	CompletionTokens  int64        `json:"completion_tokens"`
	TotalTokens       int64        `json:"total_tokens"`
	CachedTokens      int64        `json:"cached_tokens"`
	UsageEstimated    bool         `json:"usage_estimated"`
	Cost              money.Amount `json:"cost"`
	Charged           bool         `json:"charged"`
}

// Attempt is one upstream attempt of a request.
type Attempt struct {
	N              int       `json:"n"`
	Channel        string    `json:"channel"`
	Model          string    `json:"model"`
	Status         int       `json:"status"`
	Class          string    `json:"class"`
	Error          string    `json:"error"`
	Phase          string    `json:"phase"`
	RetryReason    string    `json:"retry_reason"`
	Started        time.Time `json:"started"`
	TTFBMillis     float64   `json:"ttfb_ms"`
	DurationMillis float64   `json:"duration_ms"`
}

// Detail is one request with its attempt timeline and, when its key had
// log_bodies on, its stored bodies.
type Detail struct {
	Row
	Timeline []Attempt `json:"timeline"`
	Bodies   *Bodies   `json:"bodies,omitempty"`
}

// Bodies are a request's stored request body and answer (for a stream,
// the answer text), each cut at request_log.max_body_bytes when the
// matching Truncated flag is set.
type Bodies struct {
	Request           string `json:"request"`
	RequestTruncated  bool   `json:"request_truncated"`
	Response          string `json:"response"`
	ResponseTruncated bool   `json:"response_truncated"`
}

// Usage is the usage of one group of requests.
type Usage struct {
	By               string       `json:"by"`
	Value            string       `json:"value"`
	Requests         int64        `json:"requests"`
	Errors           int64        `json:"errors"`
	PromptTokens     int64        `json:"prompt_tokens"`
	CompletionTokens int64        `json:"completion_tokens"`
	CachedTokens     int64        `json:"cached_tokens"`
	Cost             money.Amount `json:"cost"`
}

// Millis returns d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// RowOf returns the view of r.
func RowOf(r store.RequestLog) Row {
	return Row{RequestID: r.RequestID, Time: r.Time.UTC(), KeyID: r.KeyID, KeyMasked: r.KeyMasked, KeyName: r.KeyName,
		Owner: r.Owner, Group: r.Group, ClientIP: r.ClientIP, UserAgent: r.UserAgent, Endpoint: r.Endpoint,
		ModelRequested: r.ModelRequested, ModelServed: r.ModelServed, Channel: r.Channel, UpstreamRequestID: r.UpstreamRequestID,
		Stream: r.Stream, Status: r.Status, ErrorType: r.ErrorType, ErrorMessage: r.ErrorMessage, FailedPhase: r.FailedPhase,
		Attempts: r.Attempts, RetryReasons: r.RetryReasons, Fallback: r.Fallback, Continued: r.Continued, Truncated: r.Truncated,
		FinishReason: r.FinishReason, TTFBMillis: Millis(r.TTFB), TTFTMillis: Millis(r.TTFT), DurationMillis: Millis(r.Duration),
		RequestBytes: r.RequestBytes, ResponseBytes: r.ResponseBytes, PromptTokens: r.PromptTokens,
		CompletionTokens: r.CompletionTokens, TotalTokens: r.TotalTokens, CachedTokens: r.CachedTokens,
		UsageEstimated: r.UsageEstimated, Cost: money.Amount(r.CostMicros), Charged: r.Charged}
}

// RowsOf returns the views of rows; never nil, so JSON shows [].
func RowsOf(rows []store.RequestLog) []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = RowOf(r)
	}
	return out
}

// Timeline returns a request's attempts: those stored, or, for a request
// served by a single successful attempt (which is not stored separately),
// that attempt rebuilt from the row.
func Timeline(r store.RequestLog, stored []store.Attempt) []store.Attempt {
	if len(stored) > 0 || r.Attempts != 1 || r.Channel == "" {
		return stored
	}
	return []store.Attempt{{RequestID: r.RequestID, N: 1, Channel: r.Channel, Model: r.ModelRequested,
		Status: r.Status, Started: r.Time, TTFB: r.TTFB, Duration: r.Duration}}
}

// DetailOf returns the view of r with attempts as its timeline, and r's
// bodies if it has any (see store.RequestLog.HasBodies).
func DetailOf(r store.RequestLog, attempts []store.Attempt) Detail {
	attempts = Timeline(r, attempts)
	d := Detail{Row: RowOf(r), Timeline: make([]Attempt, len(attempts))}
	if r.HasBodies() {
		d.Bodies = &Bodies{Request: r.RequestBody, RequestTruncated: r.RequestBodyTruncated,
			Response: r.ResponseBody, ResponseTruncated: r.ResponseBodyTruncated}
	}
	for i, a := range attempts {
		d.Timeline[i] = Attempt{N: a.N, Channel: a.Channel, Model: a.Model, Status: a.Status, Class: a.Class,
			Error: a.Error, Phase: a.Phase, RetryReason: a.RetryReason, Started: a.Started.UTC(),
			TTFBMillis: Millis(a.TTFB), DurationMillis: Millis(a.Duration)}
	}
	return d
}

// UsageOf returns the views of rows grouped by by; never nil.
func UsageOf(by store.UsageBy, rows []store.UsageRow) []Usage {
	out := make([]Usage, len(rows))
	for i, u := range rows {
		out[i] = Usage{By: string(by), Value: u.Value, Requests: u.Requests, Errors: u.Errors, PromptTokens: u.PromptTokens,
			CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens, Cost: money.Amount(u.CostMicros)}
	}
	return out
}
