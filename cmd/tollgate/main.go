// Command tollgate is an OpenAI-compatible LLM API gateway.
//
// Usage:
//
//	tollgate serve [--config FILE] [--addr HOST:PORT]
//	tollgate keys create --name NAME [key and limit flags] [--json]
//	tollgate keys list|show|update|rotate|revoke ...
//	tollgate groups put|list|show ...
//	tollgate prices put|list ...
//	tollgate credits add|show ...
//	tollgate logs [filters] [--json] | logs show REQUEST_ID
//	tollgate usage [--by key|model|group|day] [--since ...] [--json]
//	tollgate models [--config FILE] [--json]
//	tollgate doctor --base-url URL --api-key KEY --model MODEL [flags] [--json]
//	tollgate version
package main

import (
	_ "time/tzdata" // time zones for quota days on machines without a zoneinfo database

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

const usageText = `tollgate is an OpenAI-compatible LLM API gateway.

Usage:
  tollgate <command> [flags]

Commands:
  serve     run the gateway (on the embedded defaults when no --config is given)
  keys      create, list, show, update, rotate and revoke API keys
  groups    set and list groups: model permissions, default limits, price multiplier
  prices    set and list model prices (currency per million tokens)
  credits   add prepaid credit to an owner and show the balance
  logs      list request log rows (filters) or show one request's attempt timeline
  usage     requests, tokens and cost by key, model, group or day
  models    list the models tollgate can route
  doctor    diagnose any OpenAI-compatible endpoint: network, key, model, requests, streams
  version   print the version

Run 'tollgate <command> --help' for a command's flags.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "keys":
		err = runKeys(ctx, args[1:], stdout, stderr)
	case "groups":
		err = runGroups(ctx, args[1:], stdout, stderr)
	case "prices":
		err = runPrices(ctx, args[1:], stdout, stderr)
	case "credits":
		err = runCredits(ctx, args[1:], stdout, stderr)
	case "models":
		err = runModels(ctx, args[1:], stdout, stderr)
	case "logs":
		err = runLogs(ctx, args[1:], stdout, stderr)
	case "usage":
		err = runUsage(ctx, args[1:], stdout, stderr)
	case "doctor":
		err = runDoctor(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "tollgate %s\n", version())
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usageText)
	default:
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return exitError
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tollgate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping flag errors to usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
