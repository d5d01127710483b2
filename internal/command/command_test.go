package command

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required: %v", err)
	}
	return p
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The grandchild holds no pipe of ours (its output goes to /dev/null),
	// so only the group kill can end it.
	start := time.Now()
	res, err := Run(context.Background(), Cmd{
		Path:    sh(t),
		Args:    []string{"-c", `sleep 300 >/dev/null 2>&1 & echo $! > "$1"; wait`, "sh", pidFile},
		Timeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if res.ExitCode != -1 {
		t.Errorf("ExitCode = %d, want -1", res.ExitCode)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v", d)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("grandchild %d survived the timeout", pid)
	}
}

func TestCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := Run(ctx, Cmd{Path: sh(t), Args: []string{"-c", "sleep 300 & wait"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

func TestWaitDelayBoundsHeldPipes(t *testing.T) {
	t.Parallel()
	// The child exits at once but leaves a grandchild in another session
	// holding stdout: Run returns after WaitDelay, not after the sleep.
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Fatalf("setsid (util-linux) is required: %v", err)
	}
	start := time.Now()
	_, err := Run(context.Background(), Cmd{
		Path: sh(t), Args: []string{"-c", "setsid sleep 5 & echo started"},
		WaitDelay: 200 * time.Millisecond,
	})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v (err %v)", d, err)
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("err = %v", err)
	}
}

func TestBoundedOutput(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Cmd{
		Path: sh(t), Args: []string{"-c", "head -c 100000 /dev/zero"}, MaxOutput: 1000,
	})
	if !errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), "exceeds 1000 bytes") {
		t.Fatalf("err = %v, want ErrOutputTooLarge", err)
	}
	if len(res.Stdout) != 1000 || res.ExitCode != 0 {
		t.Fatalf("kept %d bytes, exit %d", len(res.Stdout), res.ExitCode)
	}
	res, err = Run(context.Background(), Cmd{Path: sh(t), Args: []string{"-c", "printf abc"}, MaxOutput: 3})
	if err != nil || string(res.Stdout) != "abc" {
		t.Fatalf("at the limit: %q, %v", res.Stdout, err)
	}
}

func TestStderrTail(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Cmd{
		Path:      sh(t),
		Args:      []string{"-c", `i=0; while [ $i -lt 2000 ]; do echo "noise line $i" >&2; i=$((i+1)); done; echo "abort: the reason   " >&2; exit 3`},
		MaxStderr: 100,
	})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || res.ExitCode != 3 {
		t.Fatalf("err = %v, exit %d", err, res.ExitCode)
	}
	if !strings.HasSuffix(res.Stderr, "abort: the reason") || len(res.Stderr) > 110 || strings.Contains(res.Stderr, "noise line 1\n") {
		t.Fatalf("Stderr = %q", res.Stderr)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Cmd{Path: "no-such-program-anywhere"})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("err = %v, want exec.ErrNotFound", err)
	}
}

func TestRedactionAndLog(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res, err := Run(context.Background(), Cmd{
		Path:     sh(t),
		Args:     []string{"-c", `echo "abort: https://alice:pw1234@host/r and TOKEN-xyz refused" >&2; exit 1`, "sh", "https://bob:pw5678@h/x"},
		Secrets:  []string{"TOKEN-xyz"},
		Logger:   log,
		LogAttrs: []slog.Attr{slog.String("op", "test")},
	})
	if err == nil {
		t.Fatal("no error")
	}
	if want := "abort: https://xxxxx@host/r and *** refused"; res.Stderr != want {
		t.Errorf("Stderr = %q, want %q", res.Stderr, want)
	}
	line := logs.String()
	for _, leak := range []string{"pw1234", "pw5678", "TOKEN-xyz", "bob"} {
		if strings.Contains(line, leak) {
			t.Errorf("log shows %q: %s", leak, line)
		}
	}
	for _, want := range []string{`"msg":"command"`, `"op":"test"`, `"exit":1`, `"ok":false`, "https://xxxxx@h/x"} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s: %s", want, line)
		}
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"fatal: unable to access 'https://user:pw@host/x/'", "fatal: unable to access 'https://xxxxx@host/x/'"},
		{"ssh://git@host/x", "ssh://xxxxx@host/x"},
		{"no url here TOKEN", "no url here ***"},
		{"a  https://u:p@h\n\tb@c https://h/p@q", "a  https://xxxxx@h\n\tb@c https://h/p@q"},
		{"from https://h/r//u:pw@mirror/x", "from https://h/r//xxxxx@mirror/x"},
		{"", ""},
	} {
		if got := RedactText(tc.in, "TOKEN"); got != tc.want {
			t.Errorf("RedactText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://x-access-token:s3cret@github.com/o/r.git": "https://github.com/o/r.git",
		"https://github.com/o/r.git":                       "https://github.com/o/r.git",
		"/srv/git/r.git":                                   "/srv/git/r.git",
		"git@github.com:o/r.git":                           "git@github.com:o/r.git",
		"ssh://git:pw@example.org/r":                       "ssh://git@example.org/r",
		"https://tok3n@example.org/r":                      "https://example.org/r",
		"ss/h://git:s3cret@examvle.org/r":                  "ss/h://xxxxx@examvle.org/r", // found by FuzzRedact
		"a/b://u:pw@h/p#x://c:d@i":                         "a/b://xxxxx@h/p#x://xxxxx@i",
		"ss/:/://g:s3cret@h\x96org/r//g:s3cret@h\x96org/r": "ss/:/://xxxxx@h\x96org/r//xxxxx@h\x96org/r", // found by FuzzRedact: scheme-relative too
		"https://u:p@[::1":                                 "(unparsable URL)",
		"A0://:s3cret@#:s3cret@0":                          "a0:#:xxxxx@0",        // found by FuzzRedact: the password again in the fragment
		"https://u:p@h/p":                                  "https://h/p",         // a short password is not scrubbed from the path
		"A:://:0000@":                                      "A:://xxxxx@",         // found by FuzzRedact: opaque to url.Parse
		"#://:s3cret@#:s3cret@0":                           "#://xxxxx@#:xxxxx@0", // found by FuzzRedact: the password again after the authority
		"https://h/p@q":                                    "https://h/p@q",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/a/b.key", "/x_y-z/k"} {
		if err := CheckShellPath(p); err != nil {
			t.Errorf("CheckShellPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "rel/k", "/a b", "/a;rm", "/a/-oProxy", "/a$(x)"} {
		if err := CheckShellPath(p); err == nil {
			t.Errorf("CheckShellPath(%q) accepted", p)
		}
	}
	if err := CheckArgs("revision", "abc", "x-y"); err != nil {
		t.Error(err)
	}
	for _, a := range []string{"", "-x", "--config=x", "a\nb"} {
		if err := CheckArgs("revision", a); err == nil {
			t.Errorf("CheckArgs(%q) accepted", a)
		}
	}
}
