// Command hgconvert runs one native conversion of a Mercurial repository
// (into its .hg/git and .hg/git-mapfile) and prints what it did; a developer
// tool for timing and memory measurements (/usr/bin/time -v hgconvert DIR).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
)

func main() {
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: hgconvert [-timeout D] HGROOT")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	res, err := (&convert.Native{}).Convert(ctx, flag.Arg(0), convert.Options{Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hgconvert:", err)
		os.Exit(1)
	}
	d := time.Since(start)
	for _, w := range res.Warnings {
		fmt.Printf("warning: rev %d %s path %q: %s: %s\n", w.Rev, w.Node, w.Path, w.Kind, w.Message)
	}
	fmt.Printf("converted %d of %d changesets in %s (%.0f changesets/s); tip %s; %d bookmarks, %d tags, %d branch heads, %d warnings\n",
		res.Converted, res.Total, d.Round(time.Millisecond), float64(res.Converted)/d.Seconds(), res.Tip,
		len(res.Bookmarks), len(res.Tags), len(res.BranchHeads), len(res.Warnings))
}
