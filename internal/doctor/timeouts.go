package doctor

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// longInput is a request size above which prompt processing alone can
// delay the first token noticeably.
const longInput = 32 << 10

func checkTimeouts(_ context.Context, env *Env) Result {
	var x *Exchange
	for _, e := range env.Exchanges {
		if e.timeout != nil || isTimeoutStatus(e.Status) {
			x = e
			break
		}
	}
	if x == nil {
		return ok("no timeouts%s", slowest(env))
	}
	if x.timeout == nil {
		return fail("a proxy or gateway in front of the upstream gave up waiting; non-stream requests send nothing until the whole answer is ready, so long answers hit proxy read timeouts (nginx proxy_read_timeout 60 s, Cloudflare 100 s): use stream:true, lower max_tokens, or raise the proxy's timeout",
			"%s answered %d (a timeout in the path) after %v%s", x.Check, x.Status, msDur(x.Timings.Total), idSuffix(x))
	}
	cause, remedy := timeoutCause(env, x)
	return fail(remedy, "%s timed out in the %s phase (%s); likely cause: %s%s",
		x.Check, x.TimeoutPhase, phaseTimes(x), cause, idSuffix(x))
}

func isTimeoutStatus(s int) bool {
	return s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout || s == 524
}

// phaseTimes lists the phase times x reached.
func phaseTimes(x *Exchange) string {
	t := x.Timings
	s := fmt.Sprintf("connect %v", msDur(t.DNS+t.Connect+t.TLS))
	if t.Reused {
		s = "reused connection"
	}
	if t.Headers > 0 {
		s += fmt.Sprintf(", headers at %v", msDur(t.Headers))
	}
	if t.FirstToken > 0 {
		s += fmt.Sprintf(", first token at %v", msDur(t.FirstToken))
	}
	if x.Flow != nil && x.Flow.Events > 0 {
		s += fmt.Sprintf(", %d events, last at %v", x.Flow.Events, msDur(x.Flow.LastEventMs))
	}
	return s + fmt.Sprintf(", gave up at %v, request %d bytes", msDur(t.Total), x.RequestBytes)
}

// timeoutCause reads the likely cause and its remedy from the phase that
// timed out, the timings and the request size.
func timeoutCause(env *Env, x *Exchange) (cause, remedy string) {
	switch x.TimeoutPhase {
	case PhaseConnect:
		return "the network path: the connection (DNS, TCP, TLS or the proxy) did not complete",
			"see the dns, tcp and tls checks; check firewalls, VPN and --proxy; raise --connect-timeout only for a path known to be slow"
	case PhaseHeaders, PhaseFirstToken:
		if x.RequestBytes > longInput {
			return fmt.Sprintf("long input: the request is %d bytes and the model reads all of it before the first token", x.RequestBytes),
				"shorten the prompt or raise --first-token-timeout (and the client's read timeout) for long inputs"
		}
		if !x.Stream && streamedFine(env) {
			return "long output: a non-stream answer arrives only once it is complete, and the same request streamed fine",
				"use stream:true, or lower max_tokens, or raise the timeout (and any proxy read timeout in the path: nginx 60 s, Cloudflare 100 s)"
		}
		return fmt.Sprintf("upstream queueing: the request (%d bytes) is small, yet the server did not start answering, so it is waiting for capacity (overloaded or cold model)", x.RequestBytes),
			"retry later or try another model or region; if it persists send the request id to the operator; raise --first-token-timeout if slow starts are normal for this model"
	case PhaseIdle:
		events := 0
		if x.Flow != nil {
			events = x.Flow.Events
		}
		return fmt.Sprintf("the upstream stalled mid-answer: after %d events nothing arrived for %v", events, env.opts.idleTimeout()),
			"retry (a stall is usually an overloaded upstream); if streams often go quiet, the server should send `: ping` comments so proxies with read timeouts (nginx 60 s, Cloudflare 100 s) keep the connection, and clients should allow longer idle reads"
	}
	return "long output: the answer takes longer than the total timeout to produce",
		fmt.Sprintf("lower max_tokens, stream the answer, or raise --timeout (now %v)", env.opts.Timeout)
}

// streamedFine reports whether the stream check reached a first token.
func streamedFine(env *Env) bool {
	x := env.lastExchange("stream")
	return x != nil && x.Timings.FirstToken > 0
}

// slowest summarises the slowest first answer seen.
func slowest(env *Env) string {
	var s string
	if x := env.lastExchange("chat"); x != nil && x.Status == http.StatusOK {
		s += fmt.Sprintf("; chat answered in %v", msDur(x.Timings.Total))
	}
	if x := env.lastExchange("stream"); x != nil && x.Timings.FirstToken > 0 {
		s += fmt.Sprintf("; stream first token at %v of %v allowed", msDur(x.Timings.FirstToken), env.opts.FirstTokenTimeout.Round(time.Millisecond))
	}
	return s
}
