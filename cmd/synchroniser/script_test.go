package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
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
	hgtest.Require(t)
	gittest.Require(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// The kits' hg and git environments, with the script's own HOME
		// (PATH stays the script's).
		Setup: func(env *testscript.Env) error {
			for _, kv := range append(hgtest.Env(), gittest.Env()...) {
				if k, v, _ := strings.Cut(kv, "="); k != "PATH" && k != "HOME" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hgserve":  hgServe,
			"githttp":  gitHTTP,
			"onlypath": onlyPath,
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

// scriptEnv is the environment of servers a script starts.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "HGPLAIN", "HGRCPATH", "HGENCODING", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// hgServe: hgserve DIR serves the Mercurial repository DIR with `hg serve`
// on 127.0.0.1 and sets $HGURL to its URL, until the script ends.
func hgServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: hgserve DIR")
	}
	addr, stop, err := hgtest.StartServe(ts.MkAbs(args[0]), scriptEnv(ts))
	ts.Check(err)
	ts.Defer(stop)
	ts.Setenv("HGURL", "http://"+addr+"/")
}

// gitHTTP: githttp ROOT TOKEN serves the bare repositories under ROOT with
// git http-backend on 127.0.0.1, pushes allowed, requiring HTTP Basic
// x-access-token:TOKEN, and sets $GITURL to its URL, until the script ends.
func gitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: githttp ROOT TOKEN")
	}
	backend := gittest.Backend(ts.MkAbs(args[0]), scriptEnv(ts)...)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+args[1]))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	ts.Defer(srv.Close)
	ts.Setenv("GITURL", srv.URL)
}
