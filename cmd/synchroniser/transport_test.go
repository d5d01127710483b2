package main

import (
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
)

// onlyPath: onlypath PROG... sets $PATH to a new directory holding only
// the named programs (symbolic links to those $PATH finds) and the
// directory of the script's own commands (synchroniser), so that a script
// can run the synchroniser without hg or Python; $ORIGPATH keeps the PATH
// it replaced first.
func onlyPath(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: onlypath PROG...")
	}
	if ts.Getenv("ORIGPATH") == "" {
		ts.Setenv("ORIGPATH", ts.Getenv("PATH"))
	}
	bin := ts.MkAbs(".onlypath")
	ts.Check(os.RemoveAll(bin))
	ts.Check(os.MkdirAll(bin, 0o755))
	for _, prog := range args {
		path, err := exec.LookPath(prog)
		ts.Check(err)
		ts.Check(os.Symlink(path, filepath.Join(bin, prog)))
	}
	path := bin
	for _, dir := range filepath.SplitList(ts.Getenv("ORIGPATH")) {
		if fi, err := os.Stat(filepath.Join(dir, "synchroniser")); err == nil && !fi.IsDir() {
			path += string(filepath.ListSeparator) + dir
			break
		}
	}
	ts.Setenv("PATH", path)
}
