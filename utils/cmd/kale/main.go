// Command kale is the single Kale binary: ingestion (horizon), Roomba, the demo seeder, the
// load generator and the configuration tools, selected by subcommand. It is the only main
// package and the only place that wires the services together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"all", "run every component in one process (horizon with Roomba, analyzer, oculus, webapp); Redis defaults to 'embedded'", runAll},
		{"horizon", "run ingestion: the five listeners, the Redis writer and Roomba", runHorizon},
		{"analyzer", "run detection cycles over every metric, record anomalies and alert", runAnalyzer},
		{"oculus", "keep the shape-search index up to date with Redis (--rebuild drops and rebuilds it first)", runOculus},
		{"webapp", "run the web UI and HTTP API on --webapp (dashboard, search, collections, status) with the search engine in-process", runWebapp},
		{"import", "bulk-load series from CSV or JSON-lines files into Redis (kale import [--metric NAME] [--step SECONDS] [--format csv|jsonl] FILE...)", runImport},
		{"detect", "offline detection: score NAB-layout CSV files (--out DIR INPUT...) or evaluate golden cases (--cases FILE.jsonl)", runDetect},
		{"seed", "send demo series through every enabled listener and verify they reached Redis (exit 0/1)", runSeed},
		{"loadgen", "send datapoints at a steady rate for benchmarks", runLoadgen},
		{"searchload", "measure search latency through the HTTP API of a kale it starts on a real Redis, analyzer running, and check it against brute force", runSearchLoad},
		{"verify-alerts", "list the --alerts rules matching --metric and their channels; --trigger sends a test alert through each", runVerifyAlerts},
		{"check-config", "load and validate the configuration, print the effective values", runCheckConfig},
		{"print-default-config", "print the default configuration as a commented TOML file", runPrintDefault},
		{"version", "print version, Go version and build information", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: kale <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-22s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'kale <command> -h' for the flags of a command. Every flag has an environment\n"+
		"twin (--redis ↔ KALE_REDIS) and may come from --config kale.toml or .yaml.\n")
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "kale %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "kale %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kale: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
