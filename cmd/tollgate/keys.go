package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

const keysUsage = `Usage: tollgate keys <create|list|show|update|rotate|revoke> [flags]

  create --name NAME [key flags] [--admin] [--json]
         creates a key and prints its secret, once, on the last line
  list   [--json]
  show   ID_OR_NAME [--json]
  update ID_OR_NAME [--name NEW] [key flags] [--admin=true|false] [--json]
         changes only the flags given; an empty value clears (--models '')
  rotate ID_OR_NAME [--json]
         replaces the secret; the new one is printed on the last line and
         the old one stops working on running servers within a second
  revoke ID_OR_NAME

Key flags:
  --models PATTERNS      comma-separated model patterns (default: all)
  --expires WHEN         duration from now (720h) or RFC 3339 time; 'never' clears
  --owner OWNER          who the spend is billed to (prepaid balance)
  --group GROUP          the key's group (see 'tollgate groups')
  --env LABEL            environment label, e.g. test or live
  --ip-allow CIDRS       comma-separated networks the key may be used from
  --log-bodies[=false]   store the key's prompts and answers in the request log
                         (off by default; capped at request_log.max_body_bytes)
  --rpm N --tpm N --concurrency N --daily-requests N --daily-tokens N
  --daily-cost AMOUNT --monthly-budget AMOUNT   (currency, e.g. 12.50)

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
	case "show":
		return keysShow(ctx, args[1:], stdout, stderr)
	case "update":
		return keysUpdate(ctx, args[1:], stdout, stderr)
	case "rotate":
		return keysRotate(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("%w: unknown keys subcommand %q", errUsage, args[0])
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys create", "keys create --name NAME [key flags] [--admin] [--json]", stderr)
	open := dbFlags(fs)
	kf := addKeyFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON (the secret is in the \"secret\" field and alone on the last line)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: keys create takes no arguments, got %q (use --name)", errUsage, pos)
	}
	if strings.TrimSpace(*kf.name) == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	return open.with(ctx, func(st store.Store) error {
		now := time.Now()
		var k store.Key
		if err := kf.apply(ctx, st, &k, now); err != nil {
			return err
		}
		secret, err := auth.NewSecret()
		if err != nil {
			return err
		}
		if k.ID, err = auth.NewKeyID(); err != nil {
			return err
		}
		k.Hash, k.Last4 = auth.Hash(secret), auth.Last4(secret)
		created, err := st.CreateKey(ctx, k)
		if err != nil {
			return keyNameErr(err, "creating the key", k.Name)
		}
		return printSecret(stdout, viewOf(created, now), secret, *asJSON,
			"Created key %s (%s). This is the only time the secret is shown; store it now:\n")
	})
}

// printSecret prints a key with its new secret, the secret alone on the
// last line. format takes the key's name and ID.
func printSecret(stdout io.Writer, v keyView, secret string, asJSON bool, format string) error {
	if asJSON {
		v.Secret = secret
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n%s\n", b, secret)
		return nil
	}
	fmt.Fprintf(stdout, format, v.Name, v.ID)
	fmt.Fprintln(stdout, secret)
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", "keys list [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		keys, err := st.ListKeys(ctx)
		if err != nil {
			return fmt.Errorf("listing keys: %w", err)
		}
		now := time.Now()
		views := make([]keyView, len(keys))
		rows := make([][]string, len(keys))
		for i, k := range keys {
			v := viewOf(k, now)
			views[i] = v
			rows[i] = []string{v.ID, v.Name, v.Key, v.Status, orDash(v.Owner), orDash(v.Group), orDash(v.Env),
				modelsText(v), fmt.Sprint(v.Admin), expiresText(v), v.CreatedAt.Format(time.RFC3339)}
		}
		if *asJSON {
			return printJSON(stdout, views)
		}
		return printTable(stdout, []string{"ID", "NAME", "KEY", "STATUS", "OWNER", "GROUP", "ENV", "MODELS", "ADMIN", "EXPIRES", "CREATED"}, rows)
	})
}

func keysShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys show", "keys show ID_OR_NAME [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	ref, err := oneArg(fs, args, "keys show takes exactly one key id or name")
	if err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		k, err := getKey(ctx, st, ref)
		if err != nil {
			return err
		}
		v := viewOf(k, time.Now())
		if *asJSON {
			return printJSON(stdout, v)
		}
		fields := [][2]string{
			{"ID", v.ID}, {"Name", v.Name}, {"Key", v.Key}, {"Status", v.Status},
			{"Owner", orDash(v.Owner)}, {"Group", orDash(v.Group)}, {"Env", orDash(v.Env)},
			{"Models", modelsText(v)}, {"Admin", fmt.Sprint(v.Admin)}, {"IP allow", orDash(strings.Join(v.IPAllow, ","))},
			{"Limits", v.Limits.String()}, {"Log bodies", fmt.Sprint(v.LogBodies)}, {"Expires", expiresText(v)},
			{"Created", v.CreatedAt.Format(time.RFC3339)}, {"Updated", v.UpdatedAt.Format(time.RFC3339)},
		}
		if v.RevokedAt != nil {
			fields = append(fields, [2]string{"Revoked", v.RevokedAt.Format(time.RFC3339)})
		}
		return printFields(stdout, fields)
	})
}

func keysUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys update", "keys update ID_OR_NAME [--name NEW] [key flags] [--admin=true|false] [--json]", stderr)
	open := dbFlags(fs)
	kf := addKeyFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	ref, err := oneArg(fs, args, "keys update takes exactly one key id or name")
	if err != nil {
		return err
	}
	if !changesSomething(fs, "config", "c", "db", "json") {
		return fmt.Errorf("%w: keys update needs at least one flag saying what to change (see --help)", errUsage)
	}
	return open.with(ctx, func(st store.Store) error {
		k, err := getKey(ctx, st, ref)
		if err != nil {
			return err
		}
		now := time.Now()
		if err := kf.apply(ctx, st, &k, now); err != nil {
			return err
		}
		k.UpdatedAt = time.Time{}
		updated, err := st.UpdateKey(ctx, k)
		if err != nil {
			return keyNameErr(err, "updating the key", k.Name)
		}
		v := viewOf(updated, now)
		if *asJSON {
			return printJSON(stdout, v)
		}
		fmt.Fprintf(stdout, "Updated key %s (%s, %s). Running servers apply the change within a second.\n", v.Name, v.ID, v.Key)
		return nil
	})
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys rotate", "keys rotate ID_OR_NAME [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON (the secret is in the \"secret\" field and alone on the last line)")
	ref, err := oneArg(fs, args, "keys rotate takes exactly one key id or name")
	if err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		k, err := getKey(ctx, st, ref)
		if err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			return fmt.Errorf("key %s (%s) is revoked; create a new key instead of rotating it", k.Name, k.ID)
		}
		rotated, secret, err := rotateKey(ctx, st, k)
		if err != nil {
			return err
		}
		return printSecret(stdout, viewOf(rotated, time.Now()), secret, *asJSON,
			"Rotated key %s (%s). The old secret stops working on running servers within a second. The new secret is shown only now:\n")
	})
}

// rotateKey gives k a new secret and returns the stored key and the secret.
func rotateKey(ctx context.Context, st store.Keys, k store.Key) (store.Key, string, error) {
	secret, err := auth.NewSecret()
	if err != nil {
		return store.Key{}, "", err
	}
	k.Hash, k.Last4, k.UpdatedAt = auth.Hash(secret), auth.Last4(secret), time.Time{}
	rotated, err := st.UpdateKey(ctx, k)
	if err != nil {
		return store.Key{}, "", fmt.Errorf("rotating the key: %w", err)
	}
	return rotated, secret, nil
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys revoke", "keys revoke [--config FILE] ID_OR_NAME", stderr)
	open := dbFlags(fs)
	ref, err := oneArg(fs, args, "keys revoke takes exactly one key id or name")
	if err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		k, err := st.RevokeKey(ctx, ref, time.Now())
		if err != nil {
			return keyRefErr(err, "revoking the key", ref)
		}
		fmt.Fprintf(stdout, "Revoked key %s (%s, %s). Running servers reject it within a second.\n", k.Name, k.ID, auth.Mask(k.Last4))
		return nil
	})
}

// getKey finds a key by ID or name with a helpful error.
func getKey(ctx context.Context, st store.Keys, idOrName string) (store.Key, error) {
	k, err := st.GetKey(ctx, idOrName)
	if err != nil {
		return store.Key{}, keyRefErr(err, "looking up the key", idOrName)
	}
	return k, nil
}

// keyRefErr words an error from a store call that looked up idOrName.
func keyRefErr(err error, doing, idOrName string) error {
	return storeErr(err, doing, store.ErrNotFound, fmt.Sprintf("no key with id or name %q (see `tollgate keys list`)", idOrName))
}

// keyNameErr words an error from a store call that wrote a key named name.
func keyNameErr(err error, doing, name string) error {
	return storeErr(err, doing, store.ErrConflict, fmt.Sprintf("a key named %q already exists; pick another --name", name))
}

func modelsText(v keyView) string {
	switch {
	case len(v.Models) > 0:
		return strings.Join(v.Models, ",")
	case v.Admin:
		return "-"
	}
	return "*"
}

func expiresText(v keyView) string {
	if v.ExpiresAt == nil {
		return "never"
	}
	return v.ExpiresAt.Format(time.RFC3339)
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
