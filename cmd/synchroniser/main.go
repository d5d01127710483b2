// Command synchroniser keeps Git mirrors of Mercurial (and Git) repositories in sync.
//
// Usage:
//
//	synchroniser serve   [--config FILE]   HTTP service with in-process workers
//	synchroniser worker  [--config FILE]   workers only (several machines, one PostgreSQL)
//	synchroniser mirror  [flags] SOURCE DEST   one-shot sync
//	synchroniser version
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

	"github.com/synchroniser/synchroniser/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is filled by the files that define each subcommand (serve.go, worker.go, mirror.go).
var commands = map[string]command{
	"version": {"print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		fmt.Fprintln(stdout, "synchroniser", version)
		return 0
	}},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "synchroniser: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: synchroniser <command> [flags]")
	for _, name := range []string{"serve", "worker", "mirror", "convert", "adopt", "version"} {
		if c, ok := commands[name]; ok {
			fmt.Fprintf(w, "  %-8s %s\n", name, c.summary)
		}
	}
}

// parseConfigFlags adds --config to fs (serve and worker share it), parses
// args and loads the configuration; on failure cfg is nil and code is the exit
// status (0 for -h).
func parseConfigFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (cfg *config.Config, code int) {
	file := fs.String("config", os.Getenv("SYNCHRONISER_CONFIG"), "configuration `file` (TOML); default: built-in defaults and SYNCHRONISER_* variables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, 2
	}
	cfg, err := config.Load(*file, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "synchroniser: %v\n", err)
		return nil, 2
	}
	return cfg, 0
}
