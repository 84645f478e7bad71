package doctor

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SDK limits on a server's retry delay (PROTOCOLS.md section 2).
const (
	nodeMaxRetryDelay = 60 * time.Second
	goMaxRetryDelay   = 8 * time.Second
)

func checkRateLimit(_ context.Context, env *Env) Result {
	var x *Exchange
	for _, e := range env.Exchanges {
		if e.Status == http.StatusTooManyRequests {
			x = e
			break
		}
	}
	if x == nil {
		return ok("not rate limited%s", remaining(env))
	}
	hints := rateHints(x)
	whose, remedy := whoseLimit(x)
	summary := fmt.Sprintf("429 on %s: %s; %s", x.Check, orNone(x.errorText()), strings.Join(hints, ", "))
	if isQuota(x) {
		next := "retrying will not help until the quota resets"
		if x.ResetAt != "" {
			next += " (at " + x.ResetAt + ")"
		}
		return fail(next+"; "+remedy, "%s [%s]%s", summary, whose, idSuffix(x))
	}
	wait, ok := retryWait(x, env.now())
	var next string
	switch {
	case ok && wait > 0:
		next = fmt.Sprintf("wait %v before retrying", wait.Round(time.Millisecond))
		switch {
		case wait > nodeMaxRetryDelay:
			next += " (longer than the Node SDK honours, so it backs off on its own and fails again; the Python SDK raises at once above 120 s)"
		case wait > goMaxRetryDelay:
			next += " (the Go SDK clamps the wait to 8 s and may come back early)"
		default:
			next += " (the SDKs do this on their own)"
		}
	default:
		next = "the answer gives no Retry-After, so SDKs retry after about 0.5 s and 1 s and then give up, which is often too soon: add client-side backoff; the server should send Retry-After"
		if r := resetHint(x); r != "" {
			next += "; " + r
		}
	}
	return fail(next+"; "+remedy, "%s [%s]%s", summary, whose, idSuffix(x))
}

// remaining summarises the x-ratelimit-remaining-* headers of the last
// exchange that carried them.
func remaining(env *Env) string {
	for _, x := range slices.Backward(env.Exchanges) {
		if len(x.RateLimit) == 0 {
			continue
		}
		var parts []string
		for _, dim := range []string{"requests", "tokens"} {
			if rem, ok := x.RateLimit["x-ratelimit-remaining-"+dim]; ok {
				p := rem + " " + dim
				if lim, ok := x.RateLimit["x-ratelimit-limit-"+dim]; ok {
					p += " of " + lim
				}
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			return "; remaining: " + strings.Join(parts, ", ")
		}
	}
	return ""
}

// rateHints lists what the 429's headers and body say.
func rateHints(x *Exchange) []string {
	var h []string
	add := func(name, v string) {
		if v != "" {
			h = append(h, name+" "+v)
		}
	}
	add("Retry-After", x.RetryAfter)
	add("retry-after-ms", x.RetryAfterMs)
	add("x-should-retry", x.ShouldRetry)
	add("resetAt", x.ResetAt)
	for _, k := range slices.Sorted(maps.Keys(x.RateLimit)) {
		add(k, x.RateLimit[k])
	}
	if x.RetryAfter == "" && x.RetryAfterMs == "" {
		h = append(h, "no Retry-After")
	}
	return h
}

// whoseLimit says whose limit refused the request and the remedy for it.
func whoseLimit(x *Exchange) (whose, remedy string) {
	msg := strings.ToLower(x.ErrorMessage)
	switch {
	case x.isTG && (x.ResetAt != "" || strings.Contains(msg, "tollgate limit")):
		return "tollgate's own limit on your key, not the provider's",
			"if you need more, ask the tollgate operator to raise the key's or group's limit (`tollgate keys update`), or spread requests out"
	case x.isTG && strings.Contains(msg, "provider"):
		return "the upstream provider's limit, passed on by tollgate",
			"the provider account behind the channel is at its limit: the operator can add capacity or a failover channel; lower your concurrency meanwhile"
	case x.isTG:
		return "answered by tollgate",
			"read the message to see which limit it is; ask the operator if it is unclear"
	case len(x.RateLimit) > 0:
		return "the endpoint's limit (its x-ratelimit-* headers describe it; if it is a gateway, the provider's limit may be behind it)",
			"lower concurrency or tokens per request, or ask for a higher limit or tier"
	}
	return "the endpoint's limit; it sends no x-ratelimit-* headers, so whether a gateway or the provider refused cannot be told",
		"lower concurrency; ask the endpoint's operator which limit applies and whether it can be raised"
}

// isQuota reports whether x is a spent quota or budget, where retrying
// soon is pointless.
func isQuota(x *Exchange) bool {
	switch x.ErrorCode {
	case "insufficient_quota", "daily_quota_exceeded", "budget_exceeded":
		return true
	}
	return x.ErrorType == "insufficient_quota" || strings.EqualFold(x.ShouldRetry, "false")
}

// retryWait is the server's retry delay: retry-after-ms first, then
// Retry-After in seconds or as an HTTP date, as the SDKs read them.
func retryWait(x *Exchange, now time.Time) (time.Duration, bool) {
	if v, err := strconv.ParseFloat(x.RetryAfterMs, 64); err == nil && v >= 0 {
		return time.Duration(v * float64(time.Millisecond)), true
	}
	if v, err := strconv.ParseFloat(x.RetryAfter, 64); err == nil && v >= 0 {
		return time.Duration(v * float64(time.Second)), true
	}
	if t, err := http.ParseTime(x.RetryAfter); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// resetHint reads the x-ratelimit-reset-* headers, which say when a
// bucket is full again (not a wait before retrying).
func resetHint(x *Exchange) string {
	var parts []string
	for _, dim := range []string{"requests", "tokens"} {
		if v := x.RateLimit["x-ratelimit-reset-"+dim]; v != "" {
			parts = append(parts, fmt.Sprintf("the %s bucket is full again in %s", dim, v))
		}
	}
	return strings.Join(parts, ", ")
}
