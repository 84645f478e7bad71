package main

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/simupstream"
)

func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"m-ok":  {},
		"m-cut": {Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 2}},
	}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	const key = "sk-cli-doctor-SECRET-99999999wxyz"
	base := []string{"doctor", "--base-url", srv.URL + "/v1", "--api-key", key, "--timeout", "2s", "--first-token-timeout", "1s"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{"healthy", slices.Concat(base, []string{"--model", "m-ok"}), exitOK, "All checks passed.", ""},
		{"healthy json", slices.Concat(base, []string{"--model", "m-ok", "--json"}), exitOK, `"key": "sk-...wxyz"`, ""},
		{"cut stream fails", slices.Concat(base, []string{"--model", "m-cut"}), exitError, "[fail]    stream", "at least one check failed"},
		{"extra header", slices.Concat(base, []string{"--model", "m-ok", "--header", "X-Org: org-secret-1234"}), exitOK, "All checks passed.", ""},
		{"no flags", []string{"doctor"}, exitUsage, "", "base URL is required"},
		{"no model", base, exitUsage, "", "a model is required"},
		{"bad header", slices.Concat(base, []string{"--model", "m", "--header", "nocolon"}), exitUsage, "", "want 'Name: value'"},
		{"bad duration", slices.Concat(base, []string{"--model", "m", "--timeout", "soon"}), exitUsage, "", "invalid value"},
		{"positional", slices.Concat(base, []string{"--model", "m", "extra"}), exitUsage, "", "takes no arguments"},
		{"help", []string{"doctor", "--help"}, exitOK, "", "--first-token-timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nwant stdout containing %q, stderr containing %q",
					code, tc.wantCode, out, errOut, tc.wantOut, tc.wantErr)
			}
			for _, secret := range []string{key, "org-secret-1234"} {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("a secret appears in the output:\n%s%s", out, errOut)
				}
			}
			if strings.HasSuffix(tc.name, "json") {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("--json output is not JSON: %v", err)
				}
			}
		})
	}
}
