package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/auth"
)

// runCLI runs one command line and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLineExitCodes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{"no arguments", nil, exitUsage, "", "Commands:"},
		{"help", []string{"help"}, exitOK, "Commands:", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, exitOK, "tollgate ", ""},
		{"serve help", []string{"serve", "--help"}, exitOK, "", "--addr"},
		{"serve bad flag", []string{"serve", "--nope"}, exitUsage, "", "flag provided but not defined"},
		{"serve bad addr", []string{"serve", "--addr", "nohostport"}, exitUsage, "", "--addr wants host:port"},
		{"serve missing config", []string{"serve", "--config", "/nonexistent/tollgate.yaml"}, exitError, "", "reading config"},
		{"keys without subcommand", []string{"keys"}, exitUsage, "", "keys needs a subcommand"},
		{"keys unknown subcommand", []string{"keys", "rotate-all"}, exitUsage, "", "unknown keys subcommand"},
		{"keys create without name", []string{"keys", "create", "--db", db}, exitUsage, "", "--name is required"},
		{"keys create bad expiry", []string{"keys", "create", "--db", db, "--name", "x", "--expires", "yesterday"}, exitUsage, "", "--expires"},
		{"keys create bad pattern", []string{"keys", "create", "--db", db, "--name", "x", "--models", "[a"}, exitUsage, "", "not a valid pattern"},
		{"keys revoke unknown", []string{"keys", "revoke", "--db", db, "nobody"}, exitError, "", "no key with id or name"},
		{"keys revoke without argument", []string{"keys", "revoke", "--db", db}, exitUsage, "", "exactly one"},
		{"models", []string{"models"}, exitOK, "sim-chat", ""},
		{"models json", []string{"models", "--json"}, exitOK, `"name": "sim-chat"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestKeysLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	code, out, errOut := runCLI(t, "keys", "create", "--db", db, "--name", "alice", "--models", "sim-*, gpt-4o", "--expires", "720h")
	if code != exitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !auth.LooksLikeKey(secret) {
		t.Fatalf("last line %q is not a key", secret)
	}

	code, out, _ = runCLI(t, "keys", "create", "--db", db, "--name", "bob", "--json")
	if code != exitOK {
		t.Fatalf("create --json: exit %d", code)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	var created keyView
	if err := json.Unmarshal([]byte(lines[0]), &created); err != nil {
		t.Fatalf("create --json first line: %v", err)
	}
	if created.Secret != lines[len(lines)-1] || !auth.LooksLikeKey(created.Secret) || created.Status != "active" {
		t.Fatalf("create --json: %+v, last line %q", created, lines[len(lines)-1])
	}

	if code, _, errOut := runCLI(t, "keys", "create", "--db", db, "--name", "alice"); code != exitError || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate name: exit %d, %s", code, errOut)
	}

	code, out, _ = runCLI(t, "keys", "list", "--db", db)
	if code != exitOK || !strings.Contains(out, "alice") || !strings.Contains(out, "sim-*,gpt-4o") || strings.Contains(out, secret) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, auth.Mask(secret[len(secret)-4:])) {
		t.Fatalf("list does not show the masked key:\n%s", out)
	}

	if code, out, errOut := runCLI(t, "keys", "revoke", "--db", db, "alice"); code != exitOK || !strings.Contains(out, "Revoked key alice") {
		t.Fatalf("revoke: exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "keys", "list", "--db", db, "--json")
	var views []keyView
	if err := json.Unmarshal([]byte(out), &views); code != exitOK || err != nil {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, out)
	}
	status := map[string]string{}
	for _, v := range views {
		status[v.Name] = v.Status
		if v.Secret != "" {
			t.Fatalf("list leaked a secret: %+v", v)
		}
	}
	if status["alice"] != "revoked" || status["bob"] != "active" {
		t.Fatalf("statuses = %v", status)
	}
}
