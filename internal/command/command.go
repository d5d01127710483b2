package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// Defaults for a Cmd's zero fields.
const (
	DefaultTimeout   = time.Hour
	DefaultMaxOutput = 64 << 20
	DefaultMaxStderr = 16 << 10
	DefaultWaitDelay = 5 * time.Second
)

// ErrOutputTooLarge is returned when a command writes more than
// Cmd.MaxOutput bytes to stdout.
var ErrOutputTooLarge = errors.New("command output exceeds the limit")

// Cmd is one command to run.
type Cmd struct {
	Path    string   // the program
	Args    []string // its arguments, passed as they are (no shell)
	Dir     string   // working directory; "" = this process's
	Env     []string // the whole environment
	Stdin   io.Reader
	Timeout time.Duration // 0 = DefaultTimeout (the context may end sooner)
	// WaitDelay bounds the wait for stdout and stderr to close once the
	// process has exited or been killed (a grandchild outside the group
	// may hold them); 0 = DefaultWaitDelay.
	WaitDelay time.Duration
	MaxOutput int64 // stdout bytes kept; 0 = DefaultMaxOutput
	MaxStderr int   // stderr bytes kept, the last ones; 0 = DefaultMaxStderr
	// Secrets are replaced by "***" in the stderr returned and in the log.
	Secrets []string
	Logger  *slog.Logger // nil = no log line
	// LogAttrs are added to the debug log line (the caller's operation,
	// a redacted remote).
	LogAttrs []slog.Attr
}

// Result is what a command did.
type Result struct {
	Stdout   []byte // the first MaxOutput bytes
	Stderr   string // the end of stderr, trimmed, redacted
	ExitCode int    // the exit status; -1 when the process did not exit by itself or did not start
}

// Run runs c and waits for it. The error is nil only when the process
// exited with status 0 within its limits; otherwise it is the exec error
// (*exec.ExitError, *exec.Error for a program not found, a *fs.PathError
// from fork/exec), wrapped with the context's error when the deadline or
// cancellation ended it, or ErrOutputTooLarge. The Result is filled in
// either way.
func Run(ctx context.Context, c Cmd) (Result, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin
	cmd.WaitDelay = c.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	setProcessGroup(cmd)
	maxOut := c.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	maxErr := c.MaxStderr
	if maxErr <= 0 {
		maxErr = DefaultMaxStderr
	}
	stdout := &limitedBuffer{max: maxOut}
	stderr := &tailBuffer{max: maxErr}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	start := time.Now()
	err := cmd.Run()
	res := Result{Stdout: stdout.buf.Bytes(), Stderr: RedactText(tidy(stderr.String()), c.Secrets...), ExitCode: -1}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		res.ExitCode = exit.ExitCode()
	} else if err == nil {
		res.ExitCode = 0
	}
	switch {
	case err != nil && ctx.Err() != nil:
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	case err == nil && stdout.overflow:
		err = fmt.Errorf("%w: output exceeds %d bytes", ErrOutputTooLarge, maxOut)
	}
	if c.Logger != nil {
		args := make([]string, len(c.Args))
		for i, a := range c.Args {
			args[i] = RedactText(a, c.Secrets...)
		}
		attrs := append([]slog.Attr{
			slog.String("program", c.Path), slog.Any("args", args),
			slog.Duration("duration", time.Since(start)), slog.Int("exit", res.ExitCode), slog.Bool("ok", err == nil),
		}, c.LogAttrs...)
		c.Logger.LogAttrs(ctx, slog.LevelDebug, "command", attrs...)
	}
	return res, err
}

// tidy trims a message and the trailing blanks of its lines (git pads
// remote messages).
func tidy(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Join(lines, "\n")
}

// limitedBuffer keeps the first max bytes written to it and notes an
// overflow while still accepting writes, so that the process does not
// block. (It does not embed bytes.Buffer, whose ReadFrom io.Copy would use,
// bypassing the limit.)
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int64
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - int64(b.buf.Len()); int64(len(p)) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// tailBuffer keeps about the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	if len(b.buf) > b.max {
		return "…" + string(b.buf[len(b.buf)-b.max:])
	}
	return string(b.buf)
}
