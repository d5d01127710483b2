package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets scripts run the synchroniser command in-process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"synchroniser": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script with real hg
// and git.
func TestScripts(t *testing.T) {
	t.Parallel()
	for _, prog := range []string{"hg", "git"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is required: %v", prog, err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			for k, v := range map[string]string{
				"HOME":                env.WorkDir,
				"XDG_CACHE_HOME":      env.WorkDir + "/.cache",
				"HGPLAIN":             "1",
				"HGRCPATH":            "",
				"HGUSER":              "Test User <test@example.org>",
				"HGENCODING":          "utf-8",
				"GIT_CONFIG_NOSYSTEM": "1",
				"GIT_CONFIG_GLOBAL":   "/dev/null",
				"GIT_AUTHOR_NAME":     "Git Author",
				"GIT_AUTHOR_EMAIL":    "git@example.org",
				"GIT_COMMITTER_NAME":  "Git Author",
				"GIT_COMMITTER_EMAIL": "git@example.org",
				"GIT_AUTHOR_DATE":     "1700000000 +0000",
				"GIT_COMMITTER_DATE":  "1700000000 +0000",
			} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// status CODE PROG ARGS... runs a program and checks its exit code.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: status CODE PROG [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("status: bad code %q", args[0])
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("status: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
				}
			},
		},
	})
}
