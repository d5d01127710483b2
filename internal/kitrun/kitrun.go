// Package kitrun runs the programs of the test kits internal/hgtest and
// internal/gittest one way: in an environment that keeps only PATH and HOME
// of the test's own, with a deadline, stdout returned and stderr kept for
// the error; and it starts the long-running processes (servers, workers) of
// the crash tests and the soak benchmark in a process group of their own.
//
// It imports only the standard library, so both kits can use it and stay
// free of the packages they test.
package kitrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Env returns vars followed by PATH and HOME from this process's
// environment.
func Env(vars ...string) []string {
	env := append([]string(nil), vars...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// Error is a failed command: its program, arguments, exit error and stderr.
type Error struct {
	Program string
	Args    []string
	Err     error
	Stderr  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %v: %s", e.Program, strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *Error) Unwrap() error { return e.Err }

// Cmd is how a kit runs its program: the program, its environment and the
// deadline of each run.
type Cmd struct {
	Program string
	Env     []string
	Timeout time.Duration
}

// Require fails the test unless the program is on PATH: the tests need the
// real program and never skip for the want of one.
func (c Cmd) Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(c.Program); err != nil {
		t.Fatalf("%s is required for these tests: %v", c.Program, err)
	}
}

// RunErr runs the program with args in dir ("" for the current directory)
// and returns its stdout; a failure is an *Error.
func (c Cmd) RunErr(dir string, args ...string) (string, error) {
	return c.RunContext(context.Background(), dir, nil, args...)
}

// RunContext is RunErr that also stops when ctx ends and gives the program
// stdin (nil for none) on its standard input.
func (c Cmd) RunContext(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Program, args...)
	cmd.Dir = dir
	cmd.Env = c.Env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &Error{Program: c.Program, Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// Run is RunErr that fails the test on error.
func (c Cmd) Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := c.RunErr(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Buffer is a bytes.Buffer that a running program (or a logger on many
// goroutines) can write to while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns the last n lines of s (all of s when it has fewer), for a
// failed test's log of a program.
func Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
