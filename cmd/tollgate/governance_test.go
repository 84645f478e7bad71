package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// mustRun runs a command line that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("%q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// lastLine returns the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func TestGovernanceUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	mustRun(t, "keys", "create", "--db", db, "--name", "exists")
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring of stderr; the exit status is always 2
	}{
		{"bad CIDR", []string{"keys", "create", "--db", db, "--name", "x", "--ip-allow", "10.0.0.0/33"}, "--ip-allow"},
		{"negative rpm", []string{"keys", "create", "--db", db, "--name", "x", "--rpm", "-1"}, "--rpm wants a whole number"},
		{"fractional rpm", []string{"keys", "create", "--db", db, "--name", "x", "--rpm", "1.5"}, "--rpm wants a whole number"},
		{"money with too many places", []string{"keys", "create", "--db", db, "--name", "x", "--daily-cost", "0.0000001"}, "--daily-cost wants a currency amount"},
		{"money as exponent", []string{"keys", "create", "--db", db, "--name", "x", "--monthly-budget", "1e3"}, "--monthly-budget wants a currency amount"},
		{"negative budget", []string{"keys", "create", "--db", db, "--name", "x", "--monthly-budget", "-5"}, "must not be negative"},
		{"unknown group", []string{"keys", "create", "--db", db, "--name", "x", "--group", "nope"}, `there is no group "nope"`},
		{"create with argument", []string{"keys", "create", "--db", db, "--name", "x", "extra"}, "takes no arguments"},
		{"show without argument", []string{"keys", "show", "--db", db}, "exactly one"},
		{"update without argument", []string{"keys", "update", "--db", db, "--rpm", "1"}, "exactly one"},
		{"update without changes", []string{"keys", "update", "--db", db, "exists"}, "at least one flag"},
		{"update to empty name", []string{"keys", "update", "--db", db, "exists", "--name", " "}, "--name must not be empty"},
		{"rotate two keys", []string{"keys", "rotate", "--db", db, "a", "b"}, "exactly one"},
		{"groups without subcommand", []string{"groups"}, "groups needs a subcommand"},
		{"groups unknown subcommand", []string{"groups", "delete"}, "unknown groups subcommand"},
		{"groups put without name", []string{"groups", "put", "--db", db}, "exactly one group name"},
		{"zero multiplier", []string{"groups", "put", "--db", db, "g", "--price-multiplier", "0"}, "greater than 0"},
		{"bad multiplier", []string{"groups", "put", "--db", db, "g", "--price-multiplier", "80%"}, "--price-multiplier wants"},
		{"group bad pattern", []string{"groups", "put", "--db", db, "g", "--models", "[x"}, "not a valid pattern"},
		{"prices without subcommand", []string{"prices"}, "prices needs a subcommand"},
		{"prices put without output", []string{"prices", "put", "--db", db, "m", "--input", "1"}, "both --input and --output"},
		{"prices put negative", []string{"prices", "put", "--db", db, "m", "--input", "-1", "--output", "1"}, "must not be negative"},
		{"prices put float noise", []string{"prices", "put", "--db", db, "m", "--input", "0.1500000001", "--output", "1"}, "--input wants"},
		{"credits without subcommand", []string{"credits"}, "credits needs a subcommand"},
		{"credits add without amount", []string{"credits", "add", "--db", db, "acme"}, "an owner and an amount"},
		{"credits add bad amount", []string{"credits", "add", "--db", db, "acme", "ten"}, "AMOUNT wants"},
		{"credits add zero", []string{"credits", "add", "--db", db, "acme", "0.00"}, "must not be zero"},
		{"credits show without owner", []string{"credits", "show", "--db", db}, "exactly one owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestKeysGovernanceLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	mustRun(t, "groups", "put", "--db", db, "gold")

	out := mustRun(t, "keys", "create", "--db", db, "--name", "svc", "--owner", "acme", "--group", "gold", "--env", "live",
		"--ip-allow", "10.1.2.3/8, 2001:db8::/32", "--models", "sim-*", "--rpm", "60", "--tpm", "10000", "--concurrency", "4",
		"--daily-requests", "1000", "--daily-tokens", "500000", "--daily-cost", "12.50", "--monthly-budget", "300", "--log-bodies")
	secret := lastLine(out)
	if !auth.LooksLikeKey(secret) {
		t.Fatalf("last line %q is not a key", secret)
	}

	var v keyView
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "show", "svc", "--db", db, "--json")), &v); err != nil {
		t.Fatal(err)
	}
	want := limitsView{RPM: 60, TPM: 10000, Concurrency: 4, DailyRequests: 1000, DailyTokens: 500000, DailyCost: 12_500_000, MonthlyBudget: 300_000_000}
	if v.Owner != "acme" || v.Group != "gold" || v.Env != "live" || v.Limits != want || v.Secret != "" || !v.LogBodies ||
		!slices.Equal(v.IPAllow, []string{"10.0.0.0/8", "2001:db8::/32"}) || !slices.Equal(v.Models, []string{"sim-*"}) {
		t.Fatalf("show --json = %+v", v)
	}
	text := mustRun(t, "keys", "show", "--db", db, v.ID)
	for _, s := range []string{"acme", "gold", "live", "rpm=60", "daily-cost=12.50", "monthly-budget=300.00", "10.0.0.0/8", "Log bodies:  true"} {
		if !strings.Contains(text, s) {
			t.Errorf("show does not mention %q:\n%s", s, text)
		}
	}

	mustRun(t, "keys", "update", "svc", "--db", db, "--models", "", "--rpm", "0", "--daily-cost", "1.25", "--env", "test")
	v = keyView{}
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "show", "svc", "--db", db, "--json")), &v); err != nil {
		t.Fatal(err)
	}
	want.RPM, want.DailyCost = 0, 1_250_000
	if len(v.Models) != 0 || v.Env != "test" || v.Limits != want || v.Owner != "acme" || v.Group != "gold" || len(v.IPAllow) != 2 || !v.LogBodies {
		t.Fatalf("after update = %+v (only the flags given may change)", v)
	}

	mustRun(t, "keys", "update", "svc", "--db", db, "--log-bodies=false")
	var views []keyView
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--db", db, "--json")), &views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].LogBodies || views[0].Env != "test" {
		t.Fatalf("after --log-bodies=false list --json = %+v, want log_bodies false and nothing else changed", views)
	}
	if !strings.Contains(mustRun(t, "keys", "show", "svc", "--db", db, "--json"), `"log_bodies": false`) {
		t.Error(`show --json does not carry "log_bodies": false`)
	}

	list := mustRun(t, "keys", "list", "--db", db)
	if !strings.Contains(list, "OWNER") || !strings.Contains(list, "acme") || !strings.Contains(list, "gold") || !strings.Contains(list, "test") {
		t.Fatalf("list does not show owner, group and env:\n%s", list)
	}
}

func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "keys.db")
	old := lastLine(mustRun(t, "keys", "create", "--db", db, "--name", "svc", "--owner", "acme", "--rpm", "5"))

	st, err := sqlite.Open(ctx, db) // a running server's view of the database
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cache := auth.NewCache(st, auth.CacheOptions{})
	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "keys", "rotate", "--db", db, "svc", "--json")
	fresh := lastLine(out)
	var v keyView
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &v); err != nil {
		t.Fatal(err)
	}
	if !auth.LooksLikeKey(fresh) || fresh == old || v.Secret != fresh || v.Key != auth.Mask(auth.Last4(fresh)) || v.Owner != "acme" || v.Limits.RPM != 5 {
		t.Fatalf("rotate: %+v, last line %q", v, fresh)
	}

	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Lookup(old); !errors.Is(err, auth.ErrInvalidKey) {
		t.Errorf("old secret after rotation: %v, want ErrInvalidKey", err)
	}
	if p, err := cache.Lookup(fresh); err != nil || p.Name != "svc" {
		t.Errorf("new secret after rotation: %+v, %v", p, err)
	}

	mustRun(t, "keys", "revoke", "--db", db, "svc")
	if code, _, errOut := runCLI(t, "keys", "rotate", "--db", db, "svc"); code != exitError || !strings.Contains(errOut, "revoked") {
		t.Errorf("rotate a revoked key: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "keys", "rotate", "--db", db, "nobody"); code != exitError || !strings.Contains(errOut, "no key with id or name") {
		t.Errorf("rotate an unknown key: exit %d, %s", code, errOut)
	}
}

func TestGroupsLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	out := mustRun(t, "groups", "put", "--db", db, "gold", "--models", "gpt-4o*,sim-*", "--rpm", "600", "--monthly-budget", "1000", "--price-multiplier", "0.8")
	if !strings.Contains(out, "Saved group gold") || !strings.Contains(out, "0.80") {
		t.Fatalf("put: %s", out)
	}
	// A second put changes only what it names.
	mustRun(t, "groups", "put", "gold", "--db", db, "--tpm", "100000")
	mustRun(t, "groups", "put", "--db", db, "free")

	var g groupView
	if err := json.Unmarshal([]byte(mustRun(t, "groups", "show", "--db", db, "gold", "--json")), &g); err != nil {
		t.Fatal(err)
	}
	want := limitsView{RPM: 600, TPM: 100000, MonthlyBudget: 1_000_000_000}
	if g.Name != "gold" || g.Limits != want || g.PriceMultiplier != "0.80" || !slices.Equal(g.Models, []string{"gpt-4o*", "sim-*"}) {
		t.Fatalf("show --json = %+v", g)
	}

	var all []groupView
	if err := json.Unmarshal([]byte(mustRun(t, "groups", "list", "--db", db, "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "free" || all[1].Name != "gold" || all[0].PriceMultiplier != "1.00" {
		t.Fatalf("list --json = %+v", all)
	}
	if text := mustRun(t, "groups", "list", "--db", db); !strings.Contains(text, "gold") || !strings.Contains(text, "rpm=600") {
		t.Fatalf("list:\n%s", text)
	}
	if code, _, errOut := runCLI(t, "groups", "show", "--db", db, "silver"); code != exitError || !strings.Contains(errOut, "no group named") {
		t.Fatalf("show unknown: exit %d, %s", code, errOut)
	}
	// Keys may now join the group.
	mustRun(t, "keys", "create", "--db", db, "--name", "k", "--group", "gold")
}

func TestPricesLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	mustRun(t, "prices", "put", "--db", db, "gpt-4o-mini", "--input", "0.15", "--output", "0.60", "--cached-input", "0.075")
	mustRun(t, "prices", "put", "--db", db, "sim-chat", "--input", "0.000001", "--output", "0")
	var ps []priceView
	if err := json.Unmarshal([]byte(mustRun(t, "prices", "list", "--db", db, "--json")), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Model != "gpt-4o-mini" || ps[0].Input != 150_000 || ps[0].Output != 600_000 || ps[0].CachedInput != 75_000 ||
		ps[1].Input != 1 || ps[1].Output != 0 {
		t.Fatalf("list --json = %+v", ps)
	}
	text := mustRun(t, "prices", "list", "--db", db)
	if !strings.Contains(text, "0.15") || !strings.Contains(text, "0.075") || !strings.Contains(text, "0.000001") {
		t.Fatalf("list:\n%s", text)
	}
	raw := mustRun(t, "prices", "list", "--db", db, "--json")
	if !strings.Contains(raw, `"input_per_million": "0.15"`) {
		t.Errorf("prices are not decimal strings in JSON:\n%s", raw)
	}
}

func TestCreditsLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	if out := mustRun(t, "credits", "add", "--db", db, "acme", "25.00", "--note", "invoice 7"); !strings.Contains(out, "Balance now 25.00") {
		t.Fatalf("add: %s", out)
	}
	var c creditView
	if err := json.Unmarshal([]byte(mustRun(t, "credits", "add", "--db", db, "acme", "-0.10", "--json", "--note", "correction")), &c); err != nil {
		t.Fatal(err)
	}
	if c.Owner != "acme" || c.Amount != -100_000 || c.Note != "correction" || c.ID == 0 {
		t.Fatalf("add --json = %+v", c)
	}
	var o ownerView
	if err := json.Unmarshal([]byte(mustRun(t, "credits", "show", "--db", db, "acme", "--json")), &o); err != nil {
		t.Fatal(err)
	}
	if o.Credited != 24_900_000 || o.Spent != 0 || o.Balance != 24_900_000 {
		t.Fatalf("show --json = %+v", o)
	}
	if text := mustRun(t, "credits", "show", "--db", db, "nobody"); !strings.Contains(text, "Balance:   0.00") {
		t.Fatalf("show for an owner with no entries:\n%s", text)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantNote string
		wantJSON bool
	}{
		{"flags first", []string{"--note", "n", "acme", "5"}, []string{"acme", "5"}, "n", false},
		{"flags last", []string{"acme", "5", "--note", "n", "--json"}, []string{"acme", "5"}, "n", true},
		{"interleaved with =", []string{"acme", "--note=n", "5"}, []string{"acme", "5"}, "n", false},
		{"negative number is positional", []string{"acme", "-5.5"}, []string{"acme", "-5.5"}, "", false},
		{"after --", []string{"--json", "--", "--weird", "-x"}, []string{"--weird", "-x"}, "", true},
		{"flag value that looks like a flag", []string{"--note", "-x-", "a"}, []string{"a"}, "-x-", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("t", "t", &strings.Builder{})
			note := fs.String("note", "", "")
			asJSON := fs.Bool("json", false, "")
			pos, err := parseArgs(fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tt.wantPos) || *note != tt.wantNote || *asJSON != tt.wantJSON {
				t.Errorf("parseArgs(%q) = %q, note %q, json %v", tt.args, pos, *note, *asJSON)
			}
		})
	}
}
