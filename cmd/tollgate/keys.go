package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

const keysUsage = `Usage: tollgate keys <create|list|revoke> [flags]

  create --name NAME [--models PATTERNS] [--expires WHEN] [--admin] [--json]
         creates a key and prints its secret, once, on the last line
  list   [--json]
  revoke ID_OR_NAME

Every subcommand takes --config FILE (or --db PATH) to find the database.
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("%w: keys needs a subcommand", errUsage)
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("%w: unknown keys subcommand %q", errUsage, args[0])
}

// dbFlags registers --config and --db, returning an opener for the store.
func dbFlags(fs *flag.FlagSet) func(ctx context.Context) (store.Store, error) {
	cfgPath := configFlag(fs)
	db := fs.String("db", "", "SQLite database `path` (overrides database.path)")
	return func(ctx context.Context) (store.Store, error) {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return nil, err
		}
		path := cfg.Database.Path
		if *db != "" {
			path = *db
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("opening the database %s: %w", path, err)
		}
		return st, nil
	}
}

// keyView is the non-secret view of a key printed by the CLI.
type keyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	Models    []string   `json:"models"`
	Admin     bool       `json:"admin"`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	Secret    string     `json:"secret,omitempty"`
}

func viewOf(k store.Key, now time.Time) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Key: auth.Mask(k.Last4), Models: k.Models, Admin: k.Admin, CreatedAt: k.CreatedAt.UTC(), Status: "active"}
	if v.Models == nil {
		v.Models = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt.UTC()
		v.ExpiresAt = &t
		if !now.Before(k.ExpiresAt) {
			v.Status = "expired"
		}
	}
	if !k.RevokedAt.IsZero() {
		v.Status = "revoked"
	}
	return v
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys create", "keys create --name NAME [--models PATTERNS] [--expires WHEN] [--json]", stderr)
	open := dbFlags(fs)
	name := fs.String("name", "", "unique `name` for the key (required)")
	models := fs.String("models", "", "comma-separated model `patterns` the key may use, e.g. 'gpt-4o*,sim-chat' (default: all)")
	expires := fs.String("expires", "", "expiry as a duration from now (e.g. 720h) or an RFC 3339 `time` (default: never)")
	admin := fs.Bool("admin", false, "make an admin key: it may use the admin API under /admin/, and only the models given with --models")
	asJSON := fs.Bool("json", false, "print JSON (the secret is in the \"secret\" field and alone on the last line)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	now := time.Now()
	k := store.Key{Name: strings.TrimSpace(*name), Models: splitList(*models), Admin: *admin}
	for _, p := range k.Models {
		if !validPattern(p) {
			return fmt.Errorf("%w: --models: %q is not a valid pattern", errUsage, p)
		}
	}
	if *expires != "" {
		t, err := parseExpiry(*expires, now)
		if err != nil {
			return fmt.Errorf("%w: --expires: %v", errUsage, err)
		}
		k.ExpiresAt = t
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return err
	}
	if k.ID, err = auth.NewKeyID(); err != nil {
		return err
	}
	k.Hash, k.Last4 = auth.Hash(secret), secret[len(secret)-4:]
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	created, err := st.CreateKey(ctx, k)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a key named %q already exists; pick another --name", k.Name)
	}
	if err != nil {
		return fmt.Errorf("creating the key: %w", err)
	}
	v := viewOf(created, now)
	if *asJSON {
		v.Secret = secret
		b, _ := json.Marshal(v)
		fmt.Fprintf(stdout, "%s\n%s\n", b, secret)
		return nil
	}
	fmt.Fprintf(stdout, "Created key %s (%s). This is the only time the secret is shown; store it now:\n%s\n", v.Name, v.ID, secret)
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", "keys list [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	now := time.Now()
	views := make([]keyView, len(keys))
	for i, k := range keys {
		views[i] = viewOf(k, now)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKEY\tSTATUS\tMODELS\tADMIN\tEXPIRES\tCREATED")
	for _, v := range views {
		exp := "never"
		if v.ExpiresAt != nil {
			exp = v.ExpiresAt.Format(time.RFC3339)
		}
		m := "*"
		switch {
		case len(v.Models) > 0:
			m = strings.Join(v.Models, ",")
		case v.Admin:
			m = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s\n", v.ID, v.Name, v.Key, v.Status, m, v.Admin, exp, v.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys revoke", "keys revoke [--config FILE] ID_OR_NAME", stderr)
	open := dbFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: keys revoke takes exactly one key id or name", errUsage)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := st.RevokeKey(ctx, fs.Arg(0), time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no key with id or name %q (see `tollgate keys list`)", fs.Arg(0))
	}
	if err != nil {
		return fmt.Errorf("revoking the key: %w", err)
	}
	fmt.Fprintf(stdout, "Revoked key %s (%s, %s). Running servers reject it within a second.\n", k.Name, k.ID, auth.Mask(k.Last4))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration must be positive, got %s", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a duration such as 720h or a time such as 2027-01-01T00:00:00Z, got %q", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the past", s)
	}
	return t, nil
}
