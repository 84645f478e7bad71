package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/tollgate/tollgate/internal/doctor"
)

const doctorSynopsis = "doctor --base-url URL --api-key KEY --model MODEL [--timeout 30s] [--connect-timeout 5s] " +
	"[--first-token-timeout 20s] [--idle-timeout D] [--proxy URL] [--header 'K: V' ...] [--prompt TEXT] [--json]"

// errChecksFailed is returned when the doctor ran and found a problem
// (exit status 1; the report already says what).
var errChecksFailed = errors.New("doctor: at least one check failed")

// headerFlag collects repeated --header 'Name: value' flags. Its String
// never shows the values, which may be credentials.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string {
	if f == nil || len(f.h) == 0 {
		return ""
	}
	names := make([]string, 0, len(f.h))
	for k := range f.h {
		names = append(names, k)
	}
	return strings.Join(names, ",")
}

func (f *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return errors.New("want 'Name: value'")
	}
	if f.h == nil {
		f.h = make(http.Header)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", doctorSynopsis, stderr)
	def := doctor.Default()
	baseURL := fs.String("base-url", "", "the endpoint's OpenAI base URL, e.g. http://localhost:8080/v1")
	apiKey := fs.String("api-key", "", "the API key to test (never printed; $TOLLGATE_DOCTOR_API_KEY when empty)")
	model := fs.String("model", "", "the model to try")
	timeout := fs.Duration("timeout", def.Timeout, "limit for each request as a whole")
	connect := fs.Duration("connect-timeout", def.ConnectTimeout, "limit for DNS, TCP connect and TLS handshake")
	firstToken := fs.Duration("first-token-timeout", def.FirstTokenTimeout, "limit from sending a stream request to its first token")
	idle := fs.Duration("idle-timeout", 0, "limit on silence between stream reads (default: the first token timeout)")
	proxy := fs.String("proxy", "", "HTTP proxy URL (default: HTTPS_PROXY/HTTP_PROXY from the environment)")
	prompt := fs.String("prompt", def.Prompt, "the user message to send")
	asJSON := fs.Bool("json", false, "print the evidence bundle (no secrets) as JSON")
	var headers headerFlag
	fs.Var(&headers, "header", "extra request header 'Name: value' (repeatable; values are never printed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: doctor takes no arguments, got %q", errUsage, fs.Arg(0))
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("TOLLGATE_DOCTOR_API_KEY")
	}
	opts := doctor.Options{
		BaseURL: *baseURL, APIKey: *apiKey, Model: *model, Prompt: *prompt, Header: headers.h, Proxy: *proxy,
		Timeout: *timeout, ConnectTimeout: *connect, FirstTokenTimeout: *firstToken, IdleTimeout: *idle,
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("%w: %v (see tollgate doctor --help)", errUsage, err)
	}
	rep, err := doctor.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.Passed() {
		return errChecksFailed
	}
	return nil
}
