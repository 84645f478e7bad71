package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

const pricesUsage = `Usage: tollgate prices <put|list> [flags]

  put  MODEL --input AMOUNT --output AMOUNT [--cached-input AMOUNT] [--json]
       sets a model's price in currency per million tokens, e.g.
       tollgate prices put gpt-4o-mini --input 0.15 --output 0.60 --cached-input 0.075
  list [--json]

Every subcommand takes --config FILE (or --db PATH) to find the database.
`

func runPrices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, pricesUsage)
		return fmt.Errorf("%w: prices needs a subcommand", errUsage)
	}
	switch args[0] {
	case "put":
		return pricesPut(ctx, args[1:], stdout, stderr)
	case "list":
		return pricesList(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pricesUsage)
		return nil
	}
	fmt.Fprint(stderr, pricesUsage)
	return fmt.Errorf("%w: unknown prices subcommand %q", errUsage, args[0])
}

// priceView is a price as the CLI prints it, in currency per million
// tokens.
type priceView struct {
	Model       string       `json:"model"`
	Input       money.Amount `json:"input_per_million"`
	Output      money.Amount `json:"output_per_million"`
	CachedInput money.Amount `json:"cached_input_per_million"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

func priceViewOf(p store.Price) priceView {
	return priceView{Model: p.Model, Input: money.Amount(p.InputPerM), Output: money.Amount(p.OutputPerM),
		CachedInput: money.Amount(p.CachedInputPerM), UpdatedAt: p.UpdatedAt.UTC()}
}

func pricesPut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices put", "prices put MODEL --input AMOUNT --output AMOUNT [--cached-input AMOUNT] [--json]", stderr)
	open := dbFlags(fs)
	input := fs.String("input", "", "price of a million prompt tokens, as a currency `amount` such as 0.15 (required)")
	output := fs.String("output", "", "price of a million completion tokens, as a currency `amount` such as 0.60 (required)")
	cached := fs.String("cached-input", "", "price of a million prompt tokens served from a prompt cache (`amount`, default 0)")
	asJSON := fs.Bool("json", false, "print JSON")
	model, err := oneName(fs, args, "prices put takes exactly one model name")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	if !set["input"] || !set["output"] {
		return fmt.Errorf("%w: prices put needs both --input and --output", errUsage)
	}
	p := store.Price{Model: model}
	for _, f := range []struct {
		name string
		text *string
		dst  *store.Money
	}{{"input", input, &p.InputPerM}, {"output", output, &p.OutputPerM}, {"cached-input", cached, &p.CachedInputPerM}} {
		if !set[f.name] {
			continue
		}
		m, err := parseAmount(f.name, *f.text)
		if err != nil {
			return err
		}
		if m < 0 {
			return fmt.Errorf("%w: --%s must not be negative, got %s", errUsage, f.name, *f.text)
		}
		*f.dst = m
	}
	return open.with(ctx, func(st store.Store) error {
		stored, err := st.PutPrice(ctx, p)
		if err != nil {
			return fmt.Errorf("saving the price of %s: %w", p.Model, err)
		}
		v := priceViewOf(stored)
		if *asJSON {
			return printJSON(stdout, v)
		}
		fmt.Fprintf(stdout, "Saved price of %s per million tokens: input %s, output %s, cached input %s.\n",
			v.Model, money.Format(store.Money(v.Input)), money.Format(store.Money(v.Output)), money.Format(store.Money(v.CachedInput)))
		return nil
	})
}

func pricesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices list", "prices list [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return open.with(ctx, func(st store.Store) error {
		prices, err := st.ListPrices(ctx)
		if err != nil {
			return fmt.Errorf("listing prices: %w", err)
		}
		views := make([]priceView, len(prices))
		rows := make([][]string, len(prices))
		for i, p := range prices {
			v := priceViewOf(p)
			views[i] = v
			rows[i] = []string{v.Model, money.Format(store.Money(v.Input)), money.Format(store.Money(v.Output)),
				money.Format(store.Money(v.CachedInput)), v.UpdatedAt.Format(time.RFC3339)}
		}
		if *asJSON {
			return printJSON(stdout, views)
		}
		return printTable(stdout, []string{"MODEL", "INPUT/M", "OUTPUT/M", "CACHED INPUT/M", "UPDATED"}, rows)
	})
}
