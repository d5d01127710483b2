// Command fuzzall runs every fuzz target of the module for a short, bounded time.
//
// Go runs one fuzz target per invocation, so this lists the targets of each package
// (`go test -list`) and runs them one after another with -fuzztime.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	// A count ("3000x"), not a duration: with a duration, Go 1.26's fuzz
	// coordinator can report "context deadline exceeded" as a failure when the
	// time runs out (golang/go#75804, fixed in Go 1.27); a count has no deadline.
	fuzztime := flag.String("fuzztime", "3000x", "-fuzztime for each fuzz target: executions (Nx) or a duration")
	pkgs := flag.String("pkgs", "./...", "packages to search for fuzz targets")
	bound = flag.Duration("bound", 10*time.Minute, "time allowed to each target, its build included")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, *pkgs, *fuzztime); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzall:", err)
		os.Exit(1)
	}
}

// bound is the time one target may take, its build included (-bound).
var bound *time.Duration

type target struct{ pkg, name string }

func run(ctx context.Context, pkgs, fuzztime string) error {
	targets, err := list(ctx, pkgs)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("no fuzz targets found in %s", pkgs)
	}
	for _, t := range targets {
		fmt.Printf("fuzz %s %s (%s)\n", t.pkg, t.name, fuzztime)
		// The outer bound guards against a target that never returns. It
		// covers building the instrumented test binary, which on a loaded
		// 2-core machine with a cold build cache took over three minutes.
		tctx, cancel := context.WithTimeout(ctx, *bound)
		// No minimisation of new inputs, which can take a minute each; a
		// crash is still reported and its input saved.
		cmd := exec.CommandContext(tctx, "go", "test", "-run=^$", "-fuzz=^"+t.name+"$",
			"-fuzztime="+fuzztime, "-fuzzminimizetime=0s", "-parallel=2", t.pkg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		err := cmd.Run()
		timedOut := tctx.Err() != nil
		cancel()
		if timedOut {
			return fmt.Errorf("%s %s: did not finish within %s (killed)", t.pkg, t.name, *bound)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", t.pkg, t.name, err)
		}
	}
	return nil
}

// The package paths come from `go list`, not from users, so no "--" is needed.

// list returns the fuzz targets of every package matching pkgs.
func list(ctx context.Context, pkgs string) ([]target, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}", pkgs).Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var targets []target
	for _, pkg := range strings.Fields(string(out)) {
		lst, err := exec.CommandContext(ctx, "go", "test", "-list=^Fuzz", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go test -list %s: %w", pkg, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(lst))
		for sc.Scan() {
			if name := sc.Text(); strings.HasPrefix(name, "Fuzz") {
				targets = append(targets, target{pkg, name})
			}
		}
	}
	return targets, nil
}
