package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

const creditsUsage = `Usage: tollgate credits <add|show> [flags]

  add  OWNER AMOUNT [--note TEXT] [--json]
       adds AMOUNT (currency, e.g. 25.00) to OWNER's prepaid balance; a
       negative AMOUNT records a correction
  show OWNER [--json]
       prints what OWNER was credited, has spent and has left

Every subcommand takes --config FILE (or --db PATH) to find the database.
`

func runCredits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, creditsUsage)
		return fmt.Errorf("%w: credits needs a subcommand", errUsage)
	}
	switch args[0] {
	case "add":
		return creditsAdd(ctx, args[1:], stdout, stderr)
	case "show":
		return creditsShow(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, creditsUsage)
		return nil
	}
	fmt.Fprint(stderr, creditsUsage)
	return fmt.Errorf("%w: unknown credits subcommand %q", errUsage, args[0])
}

// creditView is one ledger entry as the CLI prints it.
type creditView struct {
	ID     int64        `json:"id"`
	Owner  string       `json:"owner"`
	Amount money.Amount `json:"amount"`
	Note   string       `json:"note"`
	Time   time.Time    `json:"time"`
}

// ownerView is an owner's prepaid balance.
type ownerView struct {
	Owner    string       `json:"owner"`
	Credited money.Amount `json:"credited"`
	Spent    money.Amount `json:"spent"`
	Balance  money.Amount `json:"balance"`
}

func creditsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("credits add", "credits add OWNER AMOUNT [--note TEXT] [--json]", stderr)
	open := dbFlags(fs)
	note := fs.String("note", "", "why the credit was added (free `text`, no secrets)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || strings.TrimSpace(pos[0]) == "" {
		return fmt.Errorf("%w: credits add takes an owner and an amount, e.g. credits add acme 25.00", errUsage)
	}
	amount, err := money.Parse(strings.TrimSpace(pos[1]))
	if err != nil {
		return fmt.Errorf("%w: AMOUNT wants a currency amount such as 25.00 (at most 6 decimal places), got %q", errUsage, pos[1])
	}
	if amount == 0 {
		return fmt.Errorf("%w: AMOUNT must not be zero", errUsage)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.AddCredit(ctx, store.Credit{Owner: strings.TrimSpace(pos[0]), Amount: amount, Note: *note})
	if err != nil {
		return fmt.Errorf("adding the credit: %w", err)
	}
	credited, spent, err := st.OwnerTotals(ctx, c.Owner)
	if err != nil {
		return fmt.Errorf("reading the balance of %s: %w", c.Owner, err)
	}
	if *asJSON {
		return printJSON(stdout, creditView{ID: c.ID, Owner: c.Owner, Amount: money.Amount(c.Amount), Note: c.Note, Time: c.Time.UTC()})
	}
	fmt.Fprintf(stdout, "Added %s to %s (entry %d). Balance now %s. Running servers apply it within a second.\n",
		money.Format(c.Amount), c.Owner, c.ID, money.Format(credited-spent))
	return nil
}

func creditsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("credits show", "credits show OWNER [--json]", stderr)
	open := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return fmt.Errorf("%w: credits show takes exactly one owner", errUsage)
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	owner := strings.TrimSpace(pos[0])
	credited, spent, err := st.OwnerTotals(ctx, owner)
	if err != nil {
		return fmt.Errorf("reading the balance of %s: %w", owner, err)
	}
	v := ownerView{Owner: owner, Credited: money.Amount(credited), Spent: money.Amount(spent), Balance: money.Amount(credited - spent)}
	if *asJSON {
		return printJSON(stdout, v)
	}
	fmt.Fprintf(stdout, "Owner:     %s\nCredited:  %s\nSpent:     %s\nBalance:   %s\n", owner,
		money.Format(credited), money.Format(spent), money.Format(credited-spent))
	return nil
}
