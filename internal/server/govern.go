package server

import (
	"context"
	"net/http"

	"github.com/tollgate/tollgate/internal/governance"
)

// Governor admits requests against limits, quotas, budgets and balances;
// governance.Engine satisfies it.
type Governor interface {
	Admit(ctx context.Context, req governance.Request) (*governance.Admission, error)
}

// admit reserves the request's estimate. A nil Admission (no governor) is
// valid: its methods do nothing.
func (s *Server) admit(r *http.Request, rr *relayRequest) (*governance.Admission, error) {
	if s.opts.Governor == nil {
		return nil, nil
	}
	p := principalFrom(r.Context())
	rec := recordFrom(r.Context())
	rec.row.Owner, rec.row.Group = p.Owner, p.Group
	req := governance.Request{Principal: p, Model: rr.model.Name, PromptTokens: estimatePromptTokens(rr.body)}
	for _, field := range []string{"max_completion_tokens", "max_tokens", "max_output_tokens"} {
		if n, ok, err := rr.obj.Int(field); ok && err == nil && n > 0 {
			req.MaxTokens = n
			break
		}
	}
	return s.opts.Governor.Admit(r.Context(), req)
}

// settle charges a request that was answered in full and releases the
// reservation of one that was not; the log row says which.
func (s *Server) settle(r *http.Request, rr *relayRequest, adm *governance.Admission) {
	rec := recordFrom(r.Context())
	served := rec.err == nil && rec.statusOverride == 0 && !rec.row.Truncated
	if served && rec.row.PromptTokens == 0 && rec.row.CompletionTokens == 0 {
		estimateUsage(rec, rr)
	}
	if adm == nil {
		return
	}
	u := governance.Usage{PromptTokens: rec.row.PromptTokens, CachedTokens: rec.row.CachedTokens, CompletionTokens: rec.row.CompletionTokens}
	rec.row.CostMicros, rec.row.Charged = adm.Settle(r.Context(), u, served)
}

// estimateUsage fills in the usage of an answer whose upstream reported
// none, so that it is recorded and charged on an estimate (and marked so)
// rather than as free: the prompt from the body size, the answer from the
// number of content chunks (about one token each) or the answer's size.
func estimateUsage(rec *record, rr *relayRequest) {
	rec.row.PromptTokens = estimatePromptTokens(rr.body)
	rec.row.CompletionTokens = rec.contentChunks
	if !rr.stream {
		rec.row.CompletionTokens = rec.answerBytes / 4
	}
	rec.row.TotalTokens = rec.row.PromptTokens + rec.row.CompletionTokens
	rec.row.UsageEstimated = true
}

// estimatePromptTokens estimates a prompt from the body size: about four
// bytes per token for JSON-wrapped text.
func estimatePromptTokens(body []byte) int64 {
	return int64(len(body)/4) + 1
}
