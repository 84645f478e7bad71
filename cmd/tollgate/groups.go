package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

const groupsUsage = `Usage: tollgate groups <put|list|show> [flags]

  put  NAME [--models PATTERNS] [limit flags] [--price-multiplier X] [--json]
       creates the group, or changes only the flags given on an existing one
  list [--json]
  show NAME [--json]

Limit flags (the group's own limits and its keys' defaults; a key may
tighten them): --rpm N --tpm N --concurrency N --daily-requests N
--daily-tokens N --daily-cost AMOUNT --monthly-budget AMOUNT (the group's
budget, shared by its keys). --price-multiplier scales list prices for the
group's keys, e.g. 0.8 for 20% off.

Every subcommand takes --config FILE (or --db PATH) to find the database.
`

func runGroups(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, groupsUsage)
		return fmt.Errorf("%w: groups needs a subcommand", errUsage)
	}
	switch args[0] {
	case "put":
		return groupsPut(ctx, args[1:], stdout, stderr)
	case "list":
		return groupsList(ctx, args[1:], stdout, stderr)
	case "show":
		return groupsShow(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, groupsUsage)
		return nil
	}
	fmt.Fprint(stderr, groupsUsage)
	return fmt.Errorf("%w: unknown groups subcommand %q", errUsage, args[0])
}

// groupView is a group as the CLI prints it.
type groupView struct {
	Name            string     `json:"name"`
	Models          []string   `json:"models"`
	Limits          limitsView `json:"limits"`
	PriceMultiplier string     `json:"price_multiplier"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func groupViewOf(g store.Group) groupView {
	v := groupView{Name: g.Name, Models: g.Models, Limits: limitsViewOf(g.Limits),
		PriceMultiplier: multiplierText(g.PriceMultiplierPPM), CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC()}
	if v.Models == nil {
		v.Models = []string{}
	}
	return v
}

// multiplierText renders a parts-per-million multiplier as a decimal;
// zero means 1.0.
func multiplierText(ppm int64) string {
	if ppm == 0 {
		ppm = int64(money.Unit)
	}
	return money.Format(store.Money(ppm))
}

func groupsPut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups put", "groups put NAME [--models PATTERNS] [limit flags] [--price-multiplier X] [--json]", stderr)
	open := dbFlags(fs)
	models := fs.String("models", "", "comma-separated model `patterns` the group's keys may use (empty: all)")
	mult := fs.String("price-multiplier", "", "price `factor` for the group's keys, e.g. 0.8 for 20% off (default 1)")
	lf := addLimitFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name, err := oneName(fs, args, "groups put takes exactly one group name")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	return open.with(ctx, func(st store.Store) error {
		g, err := st.GetGroup(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = store.Group{Name: name}
		case err != nil:
			return fmt.Errorf("looking up group %s: %w", name, err)
		}
		if set["models"] {
			g.Models = splitList(*models)
			for _, p := range g.Models {
				if !validPattern(p) {
					return fmt.Errorf("%w: --models: %q is not a valid pattern", errUsage, p)
				}
			}
		}
		if set["price-multiplier"] {
			m, err := parseAmount("price-multiplier", *mult)
			if err != nil {
				return err
			}
			if m <= 0 {
				return fmt.Errorf("%w: --price-multiplier must be greater than 0, got %s", errUsage, *mult)
			}
			g.PriceMultiplierPPM = int64(m)
		}
		if err := lf.apply(&g.Limits); err != nil {
			return err
		}
		g.UpdatedAt = time.Time{}
		stored, err := st.PutGroup(ctx, g)
		if err != nil {
			return fmt.Errorf("saving group %s: %w", name, err)
		}
		v := groupViewOf(stored)
		if *asJSON {
			return printJSON(stdout, v)
		}
		fmt.Fprintf(stdout, "Saved group %s: models %s, limits %s, price multiplier %s. Running servers apply it within a second.\n",
			v.Name, groupModelsText(v.Models), v.Limits, v.PriceMultiplier)
		return nil
	})
}

func groupsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups list", "groups list [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		groups, err := st.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("listing groups: %w", err)
		}
		views := make([]groupView, len(groups))
		rows := make([][]string, len(groups))
		for i, g := range groups {
			v := groupViewOf(g)
			views[i] = v
			rows[i] = []string{v.Name, groupModelsText(v.Models), v.PriceMultiplier, v.Limits.String()}
		}
		if *asJSON {
			return printJSON(stdout, views)
		}
		return printTable(stdout, []string{"NAME", "MODELS", "PRICE x", "LIMITS"}, rows)
	})
}

func groupsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups show", "groups show NAME [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name, err := oneArg(fs, args, "groups show takes exactly one group name")
	if err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		g, err := st.GetGroup(ctx, name)
		if err != nil {
			return storeErr(err, "looking up group "+name, store.ErrNotFound,
				fmt.Sprintf("no group named %q (see `tollgate groups list`)", name))
		}
		v := groupViewOf(g)
		if *asJSON {
			return printJSON(stdout, v)
		}
		return printFields(stdout, [][2]string{
			{"Name", v.Name}, {"Models", groupModelsText(v.Models)}, {"Limits", v.Limits.String()},
			{"Price multiplier", v.PriceMultiplier},
			{"Created", v.CreatedAt.Format(time.RFC3339)}, {"Updated", v.UpdatedAt.Format(time.RFC3339)},
		})
	})
}

func groupModelsText(models []string) string {
	if len(models) == 0 {
		return "*"
	}
	return strings.Join(models, ",")
}
