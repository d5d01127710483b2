package kitrun

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnvKeepsOnlyPathAndHome(t *testing.T) {
	t.Setenv("KITRUN_LEAK", "1")
	env := Env("A=1", "B=2")
	if !slices.Equal(env[:2], []string{"A=1", "B=2"}) {
		t.Errorf("Env starts %q, want the given vars first", env[:2])
	}
	for _, kv := range env[2:] {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "HOME=") {
			t.Errorf("Env passes on %q", kv)
		}
	}
}

func TestCmdRun(t *testing.T) {
	t.Parallel()
	c := Cmd{Program: "git", Env: Env("GIT_CONFIG_NOSYSTEM=1"), Timeout: time.Minute}
	if out := c.Run(t, "", "version"); !strings.HasPrefix(out, "git version ") {
		t.Errorf("git version = %q", out)
	}
	_, err := c.RunErr("", "no-such-subcommand")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("RunErr of a failing command = %v, want an *Error", err)
	}
	var exit *exec.ExitError
	if e.Program != "git" || !slices.Equal(e.Args, []string{"no-such-subcommand"}) || e.Stderr == "" || !errors.As(err, &exit) {
		t.Errorf("Error = %#v", e)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "git no-such-subcommand: exit status ") {
		t.Errorf("message = %q", msg)
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("len = %d, want 800", got)
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	const log = "one\ntwo\nthree"
	for n, want := range []string{"", "three", "two\nthree", log, log} {
		if got := Tail(log, n); got != want {
			t.Errorf("Tail(%q, %d) = %q, want %q", log, n, got, want)
		}
	}
}
