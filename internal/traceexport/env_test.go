package traceexport

import (
	"maps"
	"strings"
	"testing"
	"time"
)

// TestOptionsFromEnv covers every variable, the precedence between the
// explicit URL, the traces and the generic variables, and the errors,
// which name the variable and never show a header value.
func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		url      string
		env      map[string]string
		want     Options // Client is never set
		wantErrs []string
	}{
		{
			name: "nothing set",
			want: Options{URL: DefaultURL},
		},
		{
			name: "explicit URL beats both endpoint variables",
			url:  "http://mine:4318/v1/traces",
			env:  map[string]string{envTracesEndpoint: "http://t:4318/x", envEndpoint: "http://g:4318"},
			want: Options{URL: "http://mine:4318/v1/traces"},
		},
		{
			name: "traces endpoint as it is, beating the generic one",
			env:  map[string]string{envTracesEndpoint: " https://t.example/custom/path ", envEndpoint: "http://g:4318"},
			want: Options{URL: "https://t.example/custom/path"},
		},
		{
			name: "traces endpoint without a path gets none",
			env:  map[string]string{envTracesEndpoint: "http://t:4318"},
			want: Options{URL: "http://t:4318"},
		},
		{
			name: "generic endpoint gets /v1/traces",
			env:  map[string]string{envEndpoint: "http://g:4318"},
			want: Options{URL: "http://g:4318/v1/traces"},
		},
		{
			name: "generic endpoint with a trailing slash",
			env:  map[string]string{envEndpoint: "http://g:4318/"},
			want: Options{URL: "http://g:4318/v1/traces"},
		},
		{
			name: "generic endpoint with a base path",
			env:  map[string]string{envEndpoint: "https://g.example/otlp/"},
			want: Options{URL: "https://g.example/otlp/v1/traces"},
		},
		{
			name: "headers decoded and trimmed, traces variable wins per name",
			env: map[string]string{
				envHeaders:       " api-key = one%20two , X-Scope=a%3Db%2Cc,authorization=generic,",
				envTracesHeaders: "Authorization=Bearer%20tr, x-extra=1",
			},
			want: Options{URL: DefaultURL, Headers: map[string]string{
				"Api-Key": "one two", "X-Scope": "a=b,c", "Authorization": "Bearer tr", "X-Extra": "1",
			}},
		},
		{
			name: "empty header value",
			env:  map[string]string{envHeaders: "x-empty="},
			want: Options{URL: DefaultURL, Headers: map[string]string{"X-Empty": ""}},
		},
		{
			name: "generic timeout",
			env:  map[string]string{envTimeout: "5000"},
			want: Options{URL: DefaultURL, Timeout: 5 * time.Second},
		},
		{
			name: "traces timeout wins",
			env:  map[string]string{envTimeout: "5000", envTracesTimeout: " 250 "},
			want: Options{URL: DefaultURL, Timeout: 250 * time.Millisecond},
		},
		{
			name: "generic compression",
			env:  map[string]string{envCompression: "GZIP"},
			want: Options{URL: DefaultURL, Compression: "gzip"},
		},
		{
			name: "traces compression wins",
			env:  map[string]string{envCompression: "gzip", envTracesCompression: "none"},
			want: Options{URL: DefaultURL, Compression: "none"},
		},
		{
			name:     "header entry without =",
			env:      map[string]string{envHeaders: "x-ok=1,Authorization Bearer s3cret"},
			wantErrs: []string{envHeaders + ": entry 2 is not name=value"},
		},
		{
			name:     "header name that is not a token",
			env:      map[string]string{envTracesHeaders: "Authorization: Bearer s3cret=x"},
			wantErrs: []string{envTracesHeaders + ": entry 1 does not start with a valid header name"},
		},
		{
			name:     "bad percent-encoding",
			env:      map[string]string{envHeaders: "Authorization=s3cret%zz"},
			wantErrs: []string{envHeaders + ": the value of header Authorization is not valid percent-encoding"},
		},
		{
			name:     "encoded newline in a value",
			env:      map[string]string{envHeaders: "Authorization=s3cret%0D%0AX-Evil:%201"},
			wantErrs: []string{envHeaders + ": the value of header Authorization holds a control character"},
		},
		{
			name:     "timeout not a number",
			env:      map[string]string{envTimeout: "10s"},
			wantErrs: []string{envTimeout + `: want a whole number of milliseconds above 0, got "10s"`},
		},
		{
			name:     "timeout zero and negative",
			env:      map[string]string{envTimeout: "0", envTracesTimeout: "-5"},
			wantErrs: []string{envTimeout + ":", envTracesTimeout + ":"},
		},
		{
			name:     "unknown compression",
			env:      map[string]string{envTracesCompression: "zstd"},
			wantErrs: []string{envTracesCompression + `: want gzip or none, got "zstd"`},
		},
		{
			name:     "generic endpoint without a scheme",
			env:      map[string]string{envEndpoint: "collector:4318"},
			wantErrs: []string{envEndpoint + ": want an http:// or https:// URL"},
		},
		{
			name:     "traces endpoint without a host, password not shown",
			env:      map[string]string{envTracesEndpoint: "http://user:s3cret@/v1/traces"},
			wantErrs: []string{envTracesEndpoint + ": want an http:// or https:// URL"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string {
				if !strings.HasPrefix(k, "OTEL_") {
					t.Errorf("read unexpected variable %s", k)
				}
				return tt.env[k]
			}
			got, err := OptionsFromEnv(tt.url, getenv)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErrs)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q, want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OptionsFromEnv: %v", err)
			}
			if got.URL != tt.want.URL || got.Timeout != tt.want.Timeout || got.Compression != tt.want.Compression ||
				!maps.Equal(got.Headers, tt.want.Headers) || got.Client != nil {
				t.Errorf("got  %+v %q\nwant %+v %q", got, got.Headers, tt.want, tt.want.Headers)
			}
			// What the environment gives, New accepts.
			e, err := New(got)
			if err != nil {
				t.Fatalf("New(OptionsFromEnv()): %v", err)
			}
			_ = e.Shutdown(t.Context())
		})
	}
}
