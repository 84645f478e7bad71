package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedDefaultsAreValid(t *testing.T) {
	cfg, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	if len(cfg.Channels) == 0 || len(cfg.Models) == 0 {
		t.Fatalf("embedded config routes nothing: %+v", cfg)
	}
	if cfg.Server.Addr != "127.0.0.1:8080" || cfg.Upstream.Timeouts.Total != 10*time.Minute {
		t.Fatalf("defaults not applied: addr %q total %v", cfg.Server.Addr, cfg.Upstream.Timeouts.Total)
	}
	for _, m := range cfg.Models {
		for _, r := range m.Routes {
			if r.Model == "" || r.Weight != 1 {
				t.Fatalf("route defaults not filled for %s: %+v", m.Name, r)
			}
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": "sk-test"}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "tollgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, "tollgate.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if got := cfg.Channels[0].APIKey.Reveal(); got != "sk-test" {
		t.Fatalf("api_key not expanded: %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings that must all appear
	}{
		{
			name: "unknown field names field and line",
			yaml: "server:\n  adr: 1.2.3.4:80\n",
			want: []string{"line 2", "adr"},
		},
		{
			name: "misspelled nested field",
			yaml: "channels:\n  - name: a\n    provider: openai\n    base_url: http://x/v1\n    api_kye: x\n",
			want: []string{"line 5", "api_kye"},
		},
		{
			name: "all problems at once",
			yaml: "server:\n  addr: nope\nlog:\n  level: loud\nchannels:\n  - name: a\n    provider: openai\n    api_key: ${MISSING_VAR}\nmodels:\n  - name: m\n    routes: [{channel: b}]\n",
			want: []string{"server.addr", "log.level", "channels[0].api_key: environment variable MISSING_VAR is not set", "channels[0].base_url: required", `models[0].routes[0].channel: no channel named "b"`},
		},
		{
			name: "duplicate names and aliases",
			yaml: "channels:\n  - {name: s, provider: simulator}\n  - {name: s, provider: simulator}\nmodels:\n  - {name: m, aliases: [x], routes: [{channel: s}]}\n  - {name: x, routes: [{channel: s}]}\n",
			want: []string{`duplicate channel name "s"`, `"x" is already used by model "m"`},
		},
		{
			name: "unknown provider and fault",
			yaml: "channels:\n  - name: s\n    provider: foo\n  - name: t\n    provider: simulator\n    simulator:\n      models:\n        m: {fault: {kind: explode}}\n",
			want: []string{`unknown provider "foo"`, `unknown fault "explode"`},
		},
		{
			name: "negative simulator fault every",
			yaml: "channels:\n  - name: t\n    provider: simulator\n    simulator:\n      default: {reject_prefill: true, fault: {kind: status, status: 503, every: -2}}\n",
			want: []string{"channels[0].simulator.default.fault", "every"},
		},
		{
			name: "bad duration and size",
			yaml: "server:\n  max_body_bytes: 12XB\n",
			want: []string{"line 2", "invalid size"},
		},
		{
			name: "model without routes",
			yaml: "models:\n  - name: m\n",
			want: []string{"needs at least one route"},
		},
		{
			name: "gemini without key or base_url, bad dialects",
			yaml: "channels:\n  - {name: g, provider: gemini}\n  - {name: s, provider: simulator, dialect: klingon}\n  - {name: o, provider: openai, base_url: https://x/v1, dialect: gemini}\n",
			want: []string{`channels[0].api_key: required for provider "gemini"`, `channels[1].dialect: unknown dialect "klingon"`, `channels[2].dialect: only valid for provider "simulator"`},
		},
		{
			name: "responses on channels that cannot serve it",
			yaml: "channels:\n  - {name: a, provider: openai, base_url: https://x.openai.azure.com, api_style: azure, responses: true}\n  - {name: b, provider: anthropic, api_key: k, responses: true}\n  - {name: c, provider: simulator, dialect: gemini, responses: true}\n",
			want: []string{`channels[0].responses: not supported with api_style "azure"`, `channels[1].responses: only valid for provider "openai"`, `channels[2].responses: only valid with the "openai" dialect`},
		},
		{
			name: "bad api styles",
			yaml: "channels:\n  - {name: a, provider: openai, base_url: https://x.openai.azure.com, api_style: azur}\n  - {name: b, provider: openai, base_url: https://x/v1, api_version: 2024-10-21}\n  - {name: c, provider: simulator, api_style: azure}\n  - {name: d, provider: openai, base_url: https://x.openai.azure.com, api_style: azure, headers: {Api-Key: x}}\n",
			want: []string{`channels[0].api_style: unknown API style "azur"`, `channels[1].api_version: only valid with api_style "azure"`, `channels[2].api_style: only valid for provider "openai"`, "channels[3].headers.Api-Key"},
		},
		{
			name: "reserved header",
			yaml: "channels:\n  - name: a\n    provider: openai\n    base_url: https://x/v1\n    headers: {Authorization: x}\n",
			want: []string{"headers.Authorization"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "test.yaml", nil)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseKeepsDefaultsForUnsetFields(t *testing.T) {
	cfg, err := Parse([]byte("server:\n  addr: 0.0.0.0:9000\nrequest_log:\n  enabled: false\n"), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "0.0.0.0:9000" || cfg.Server.ShutdownTimeout != 30*time.Second || cfg.RequestLog.Enabled || cfg.RequestLog.BatchSize != 512 {
		t.Fatalf("unexpected config: %+v", cfg)
	}
}

func TestValidationErrorUnwrapsProblems(t *testing.T) {
	_, err := Parse([]byte("server:\n  addr: nope\n"), "t", nil)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("want one *Error problem, got %v", err)
	}
}

func TestExpand(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "alpha", "EMPTY": ""}[k]
		return v, ok
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-y", want: "x-alpha-y"},
		{in: "${B:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "$${A}", want: "${A}"},
		{in: "${B}", err: "environment variable B is not set"},
		{in: "${A", err: "unterminated"},
		{in: "${1X}", err: "invalid environment variable reference"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in, env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1024", 1024, true},
		{"16MiB", 16 << 20, true},
		{"2 KiB", 2048, true},
		{"1GB", 1e9, true},
		{"10B", 10, true},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
	if s := ByteSize(16 << 20).String(); s != "16MiB" {
		t.Fatalf("String = %q", s)
	}
}

func TestChannelTimeoutsInherit(t *testing.T) {
	cfg := Default()
	got := cfg.ChannelTimeouts(Channel{Timeouts: Timeouts{Idle: time.Second}})
	if got.Idle != time.Second || got.Connect != cfg.Upstream.Timeouts.Connect || got.Total != cfg.Upstream.Timeouts.Total {
		t.Fatalf("ChannelTimeouts = %+v", got)
	}
}

func TestGeminiChannels(t *testing.T) {
	for _, yaml := range []string{
		"channels:\n  - {name: g, provider: gemini, api_key: AIza-x}\n",
		"channels:\n  - {name: g, provider: gemini, base_url: http://proxy.local/v1beta}\n",
		"channels:\n  - {name: s, provider: simulator, dialect: gemini}\n",
	} {
		if _, err := Parse([]byte(yaml), "test.yaml", nil); err != nil {
			t.Errorf("%s: %v", yaml, err)
		}
	}
}
