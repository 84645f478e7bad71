package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

// adminMaxBody caps the body of an admin API request.
const adminMaxBody = 1 << 20

// decodeAdmin reads a JSON object body into v, accepting only the
// top-level fields named in allowed. Errors are answered as 400s naming
// the offending field, or 413 for an oversized body.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any, allowed ...string) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, adminMaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(mbe.Limit)
	}
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_body",
			Message: "The request body could not be read.", Cause: err}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, adminBadJSON(err)
	}
	if err := checkFields(raw, "", allowed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, adminBadJSON(err)
	}
	return raw, nil
}

// adminBadJSON explains a body that is not the JSON object expected.
func adminBadJSON(err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return invalidField(te.Field, fmt.Sprintf("`%s` must be a JSON %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value))
	}
	msg := "The request body must be a JSON object."
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("We could not parse the JSON body of your request (%v at byte %d). Send a JSON object with Content-Type: application/json.", se, se.Offset)
	}
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json", Message: msg, Cause: err}
}

// jsonKind names a Go kind as the JSON type a client should send.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "integer"
	case k == "slice":
		return "array"
	case k == "ptr", k == "struct", k == "map":
		return "object"
	}
	return k
}

// checkFields rejects any key of raw not in allowed, so a typo such as
// "rmp" is an error rather than a silently missing limit. prefix is
// prepended to the name in the error's param, e.g. "limits.".
func checkFields(raw map[string]json.RawMessage, prefix string, allowed []string) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return invalidField(prefix+k, fmt.Sprintf("unknown field `%s%s`; the fields are %s", prefix, k, strings.Join(allowed, ", ")))
		}
	}
	return nil
}

// limitsJSON is store.Limits on the wire: money as decimal strings, unset
// (zero) limits left out. In a request, a missing field leaves the limit
// as it is (PATCH) or zero (PUT), and 0 removes it.
type limitsJSON struct {
	RPM           *int64          `json:"rpm,omitempty"`
	TPM           *int64          `json:"tpm,omitempty"`
	Concurrency   *int64          `json:"concurrency,omitempty"`
	DailyRequests *int64          `json:"daily_requests,omitempty"`
	DailyTokens   *int64          `json:"daily_tokens,omitempty"`
	DailyCost     json.RawMessage `json:"daily_cost,omitempty"`
	MonthlyBudget json.RawMessage `json:"monthly_budget,omitempty"`
}

// limitsFields returns the JSON names of limitsJSON.
func limitsFields() []string {
	return []string{"rpm", "tpm", "concurrency", "daily_requests", "daily_tokens", "daily_cost", "monthly_budget"}
}

// limitsOut converts stored limits to their JSON form.
func limitsOut(l store.Limits) limitsJSON {
	var out limitsJSON
	for _, f := range []struct {
		n   int64
		dst **int64
	}{{l.RPM, &out.RPM}, {l.TPM, &out.TPM}, {l.Concurrency, &out.Concurrency}, {l.DailyRequests, &out.DailyRequests}, {l.DailyTokens, &out.DailyTokens}} {
		if f.n != 0 {
			*f.dst = &f.n
		}
	}
	if l.DailyCost != 0 {
		out.DailyCost = amountJSON(l.DailyCost)
	}
	if l.MonthlyBudget != 0 {
		out.MonthlyBudget = amountJSON(l.MonthlyBudget)
	}
	return out
}

// amountJSON renders m as a JSON decimal string.
func amountJSON(m store.Money) json.RawMessage {
	b, _ := money.Amount(m).MarshalJSON()
	return b
}

// applyLimits changes the fields of l present in raw (the "limits" object
// of a request). param names the object in errors.
func applyLimits(l *store.Limits, raw json.RawMessage, param string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return invalidField(param, "`"+param+"` must be an object such as {\"rpm\": 60, \"daily_cost\": \"5.00\"}")
	}
	if err := checkFields(fields, param+".", limitsFields()); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"rpm", &l.RPM}, {"tpm", &l.TPM}, {"concurrency", &l.Concurrency}, {"daily_requests", &l.DailyRequests}, {"daily_tokens", &l.DailyTokens}} {
		v, ok := fields[f.name]
		if !ok {
			continue
		}
		var n int64
		if err := json.Unmarshal(v, &n); err != nil || n < 0 {
			return invalidField(param+"."+f.name, "`"+param+"."+f.name+"` must be a whole number of at least 0 (0 removes the limit)")
		}
		*f.dst = n
	}
	for _, f := range []struct {
		name string
		dst  *store.Money
	}{{"daily_cost", &l.DailyCost}, {"monthly_budget", &l.MonthlyBudget}} {
		v, ok := fields[f.name]
		if !ok {
			continue
		}
		m, err := parseAmountField(v, param+"."+f.name)
		if err != nil {
			return err
		}
		if m < 0 {
			return invalidField(param+"."+f.name, "`"+param+"."+f.name+"` must not be negative")
		}
		*f.dst = m
	}
	return nil
}

// parseAmountField parses a money field (a decimal string such as "12.50",
// or a JSON number read exactly).
func parseAmountField(raw json.RawMessage, param string) (store.Money, error) {
	var a money.Amount
	if string(raw) == "null" || a.UnmarshalJSON(raw) != nil {
		return 0, invalidField(param, "`"+param+"` must be a decimal amount such as \"12.50\" with at most 6 decimal places")
	}
	return store.Money(a), nil
}

// timeOrNil returns t in UTC, or nil for the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// notFoundError is a 404 for a missing admin record.
func notFoundError(code, what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: code, Message: what + " does not exist."}
}

// storeError maps a store failure on an admin write: ErrNotFound is a 404,
// ErrConflict a 409, ErrInvalid a 400, anything else a 500.
func storeError(err error, notFound *apiError, conflictParam, conflictMsg string) error {
	switch {
	case errors.Is(err, store.ErrNotFound) && notFound != nil:
		return notFound
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Type: typeInvalidRequest, Code: "conflict", Param: conflictParam, Message: conflictMsg, Cause: err}
	case errors.Is(err, store.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_value",
			Message: "The store rejected the record as invalid; check the fields sent.", Cause: err}
	}
	return err
}
