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

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/store"
)

// storeOpener opens the store named by the --config and --db flags.
type storeOpener func(ctx context.Context) (store.Store, error)

// dbFlags registers --config and --db, returning an opener for the store.
func dbFlags(fs *flag.FlagSet) storeOpener {
	cfgPath := configFlag(fs)
	db := fs.String("db", "", "SQLite database `path` (overrides database.path)")
	return func(ctx context.Context) (store.Store, error) {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return nil, err
		}
		if *db != "" {
			cfg.Database.Driver, cfg.Database.Path = "sqlite", *db
		}
		return app.OpenStore(ctx, cfg.Database)
	}
}

// with opens the store, runs fn on it and closes it again.
func (open storeOpener) with(ctx context.Context, fn func(st store.Store) error) error {
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

// oneArg parses args and returns the single positional argument; any other
// count is a usage error reading "errUsage: want", e.g. "keys show takes
// exactly one key id or name".
func oneArg(fs *flag.FlagSet, args []string, want string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%w: %s", errUsage, want)
	}
	return pos[0], nil
}

// oneName is oneArg for a name: it also rejects a blank argument, with the
// same message, and returns the name trimmed.
func oneName(fs *flag.FlagSet, args []string, want string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return "", fmt.Errorf("%w: %s", errUsage, want)
	}
	return strings.TrimSpace(pos[0]), nil
}

// storeErr words a failed store call for the CLI: an err matching
// sentinel (store.ErrNotFound, store.ErrConflict) becomes msg alone, which
// should tell the user what to do; any other err is wrapped as
// "doing: err". A nil err stays nil.
func storeErr(err error, doing string, sentinel error, msg string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sentinel):
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns the tabwriter every CLI table is printed through.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// printTable prints a header line and rows as aligned columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// printFields prints one "Label:  value" line per field, values aligned.
func printFields(w io.Writer, fields [][2]string) error {
	tw := newTable(w)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}
