package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate/internal/logview"
	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

const logsUsage = `Usage: tollgate logs [filters] [--json]
       tollgate logs show REQUEST_ID [--json]

  Lists request log rows, newest first. Filters:
    --key ID  --model M  --status N  --error-type T  --request-id ID
    --since 1h|7d|RFC3339|DATE  --until ...  --limit N (default 100, at most 1000)
  show prints one request and its attempt timeline: each attempt's channel,
  status, failure class, phase, timings and the reason for the next attempt,
  then the request body and answer if they were stored (only for keys with
  log_bodies on).

Every form takes --config FILE (or --db PATH) to find the database.
`

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "show":
			return logsShow(ctx, args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprint(stdout, logsUsage)
			return nil
		}
	}
	fs := newFlagSet("logs", "logs [--key ID] [--model M] [--status N] [--error-type T] [--since 1h|RFC3339] [--until ...] [--request-id ID] [--limit N] [--json]", stderr)
	open := dbFlags(fs)
	var q logview.Query
	fs.StringVar(&q.Key, "key", "", "only the key with this `id`")
	fs.StringVar(&q.Model, "model", "", "only requests for this `model` (requested or served)")
	fs.StringVar(&q.Status, "status", "", "only this HTTP `status`")
	fs.StringVar(&q.ErrorType, "error-type", "", "only this error `type` (e.g. rate_limit_exceeded, timeout)")
	fs.StringVar(&q.Since, "since", "", "from this `time` on: an age (1h, 7d), RFC 3339 time or date")
	fs.StringVar(&q.Until, "until", "", "before this `time` (same forms as --since)")
	fs.StringVar(&q.RequestID, "request-id", "", "only this request `id`")
	fs.StringVar(&q.Limit, "limit", "", "at most `N` rows (default 100, at most 1000)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q (did you mean logs show %s?)", errUsage, pos[0], pos[0])
	}
	f, err := q.Filter(time.Now())
	if err != nil {
		return filterUsage(err)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.ListRequestLogs(ctx, f)
	if err != nil {
		return fmt.Errorf("reading the request log: %w", err)
	}
	if *asJSON {
		return printJSON(stdout, logview.RowsOf(rows))
	}
	return writeLogTable(stdout, rows)
}

// filterUsage marks a bad filter as a command-line mistake.
func filterUsage(err error) error {
	if errors.Is(err, logview.ErrBadFilter) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

// writeLogTable prints one line per row.
func writeLogTable(w io.Writer, rows []store.RequestLog) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No matching requests.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREQUEST ID\tKEY\tMODEL\tCHANNEL\tSTATUS\tERROR\tPHASE\tATTEMPTS\tTTFB\tTOTAL\tTOKENS\tCOST")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%d/%d\t%s\n",
			r.Time.UTC().Format("2006-01-02 15:04:05"), r.RequestID, dash(r.KeyMasked), dash(r.ModelRequested), dash(r.Channel),
			r.Status, dash(r.ErrorType), dash(r.FailedPhase), r.Attempts, ms(r.TTFB), ms(r.Duration),
			r.PromptTokens, r.CompletionTokens, costText(r.CostMicros, r.Charged))
	}
	return tw.Flush()
}

func logsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logs show", "logs show REQUEST_ID [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return fmt.Errorf("%w: logs show takes exactly one request id", errUsage)
	}
	id := strings.TrimSpace(pos[0])
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.ListRequestLogs(ctx, store.LogFilter{RequestID: id, Limit: 1, Bodies: true})
	if err != nil {
		return fmt.Errorf("reading the request log: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("no request %s in the request log (rows are written within a second; older ones may have passed request_log.retention)", id)
	}
	attempts, err := st.ListAttempts(ctx, id)
	if err != nil {
		return fmt.Errorf("reading the attempts of %s: %w", id, err)
	}
	if *asJSON {
		return printJSON(stdout, logview.DetailOf(rows[0], attempts))
	}
	if err := writeTimeline(stdout, rows[0], logview.Timeline(rows[0], attempts)); err != nil {
		return err
	}
	return writeBodies(stdout, rows[0])
}

// writeBodies prints a request's stored bodies, if it has any.
func writeBodies(w io.Writer, r store.RequestLog) error {
	if !r.HasBodies() {
		return nil
	}
	fmt.Fprintln(w, "\nBodies (stored because the key has log_bodies on):")
	for _, b := range []struct {
		name, text string
		cut        bool
	}{{"Request", r.RequestBody, r.RequestBodyTruncated}, {"Response", r.ResponseBody, r.ResponseBodyTruncated}} {
		note := ""
		if b.cut {
			note = " (truncated at request_log.max_body_bytes)"
		}
		fmt.Fprintf(w, "  %s%s:\n", b.name, note)
		if b.text == "" {
			fmt.Fprintln(w, "    (empty)")
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(b.text, "\n"), "\n") {
			fmt.Fprintln(w, "    "+line)
		}
	}
	return nil
}

// writeTimeline prints a request's facts and its attempts.
func writeTimeline(w io.Writer, r store.RequestLog, attempts []store.Attempt) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	line("Request", r.RequestID)
	line("Time", r.Time.UTC().Format(time.RFC3339Nano))
	line("Key", fmt.Sprintf("%s (%s, %s)", dash(r.KeyMasked), dash(r.KeyName), dash(r.KeyID)))
	line("Group / owner", dash(r.Group)+" / "+dash(r.Owner))
	line("Client", dash(r.ClientIP)+" "+r.UserAgent)
	line("Endpoint", fmt.Sprintf("%s (stream %t)", dash(r.Endpoint), r.Stream))
	line("Model", fmt.Sprintf("%s -> %s via %s (fallback %t)", dash(r.ModelRequested), dash(r.ModelServed), dash(r.Channel), r.Fallback))
	line("Upstream id", dash(r.UpstreamRequestID))
	line("Status", fmt.Sprintf("%d %s", r.Status, r.ErrorType))
	if r.ErrorMessage != "" {
		line("Error", r.ErrorMessage)
	}
	line("Failed phase", dash(r.FailedPhase))
	line("Finish", fmt.Sprintf("%s (truncated %t, continued %t)", dash(r.FinishReason), r.Truncated, r.Continued))
	line("Timings", fmt.Sprintf("first byte %s, first token %s, total %s", ms(r.TTFB), ms(r.TTFT), ms(r.Duration)))
	line("Sizes", fmt.Sprintf("request %d B, response %d B", r.RequestBytes, r.ResponseBytes))
	line("Tokens", fmt.Sprintf("prompt %d (cached %d), completion %d, total %d (estimated %t)",
		r.PromptTokens, r.CachedTokens, r.CompletionTokens, r.TotalTokens, r.UsageEstimated))
	line("Cost", costText(r.CostMicros, r.Charged))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAttempts (%d):\n", len(attempts))
	if len(attempts) == 0 {
		_, err := fmt.Fprintln(w, "  none (the request was answered by tollgate itself)")
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTARTED\tCHANNEL\tMODEL\tSTATUS\tCLASS\tPHASE\tTTFB\tDURATION\tNEXT")
	for _, a := range attempts {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", a.N, a.Started.UTC().Format("15:04:05.000"),
			dash(a.Channel), dash(a.Model), a.Status, dash(a.Class), dash(a.Phase), ms(a.TTFB), ms(a.Duration), dash(a.RetryReason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range attempts {
		if a.Error != "" {
			fmt.Fprintf(w, "  #%d error: %s\n", a.N, a.Error)
		}
	}
	return nil
}

const usageUsage = `Usage: tollgate usage [--by key|model|group|day] [--since 1h|7d|RFC3339|DATE] [--until ...] [--json]

  Sums requests, errors, tokens and charged cost per key, model (requested),
  group or UTC day. Takes --config FILE (or --db PATH) to find the database.
`

func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usageUsage)
		return nil
	}
	fs := newFlagSet("usage", "usage [--by key|model|group|day] [--since ...] [--until ...] [--json]", stderr)
	open := dbFlags(fs)
	by := fs.String("by", "model", "group by `key`, model, group or day")
	since := fs.String("since", "", "from this `time` on: an age (1h, 7d), RFC 3339 time or date")
	until := fs.String("until", "", "before this `time` (same forms as --since)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	f, err := logview.UsageFilter(*by, *since, *until, time.Now())
	if err != nil {
		return filterUsage(err)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.Usage(ctx, f)
	if err != nil {
		return fmt.Errorf("reading usage: %w", err)
	}
	if *asJSON {
		return printJSON(stdout, logview.UsageOf(f.By, rows))
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(stdout, "No requests in that range.")
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tPROMPT\tCOMPLETION\tCACHED\tCOST\t\n", strings.ToUpper(string(f.By)))
	var total store.UsageRow
	for _, u := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", dash(u.Value), u.Requests, u.Errors, u.PromptTokens,
			u.CompletionTokens, u.CachedTokens, money.Format(u.CostMicros))
		total.Requests += u.Requests
		total.Errors += u.Errors
		total.PromptTokens += u.PromptTokens
		total.CompletionTokens += u.CompletionTokens
		total.CachedTokens += u.CachedTokens
		total.CostMicros += u.CostMicros
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\t%s\t\n", total.Requests, total.Errors, total.PromptTokens,
		total.CompletionTokens, total.CachedTokens, money.Format(total.CostMicros))
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ms prints a duration in milliseconds, "-" for zero.
func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", logview.Millis(d))
}

// costText prints a cost and whether it was charged.
func costText(c store.Money, charged bool) string {
	if !charged {
		if c == 0 {
			return "-"
		}
		return money.Format(c) + " (not charged)"
	}
	return money.Format(c)
}
