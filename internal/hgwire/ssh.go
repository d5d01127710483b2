package hgwire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// sshArgSpecs are the argument names of the commands sent over ssh; "*"
// means the remaining arguments go as a counted dictionary
// (wireprotov1server.py's command table).
var sshArgSpecs = map[string][]string{
	"capabilities": nil,
	"heads":        nil,
	"hello":        nil,
	"between":      {"pairs"},
	"known":        {"nodes", "*"},
	"listkeys":     {"namespace"},
	"lookup":       {"key"},
	"batch":        {"cmds", "*"},
	"getbundle":    {"*"},
}

type sshTransport struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	mu      sync.Mutex
	spent   bool // a stream answer was started: the pipe is no longer framed
	stderr  *stderrTail
	waitErr chan error
	display string
}

// stderrTail drains the server's stderr, forwarding it and keeping the
// last lines for error messages.
type stderrTail struct {
	mu    sync.Mutex
	lines []string
	fwd   io.Writer
	done  chan struct{}
}

func (s *stderrTail) run(r io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		if s.fwd != nil {
			fmt.Fprintf(s.fwd, "remote: %s\n", line)
		}
		s.lines = append(s.lines, line)
		if len(s.lines) > 20 {
			s.lines = s.lines[1:]
		}
		s.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (s *stderrTail) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// shellQuote quotes s for a POSIX shell (the remote command runs in one).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_-+=:,./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func dialSSH(ctx context.Context, u *url.URL, opts Options) (*Peer, error) {
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\n'\"\\;") {
		return nil, fmt.Errorf("hgwire: ssh host %q is not allowed", host)
	}
	if u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			return nil, fmt.Errorf("hgwire: ssh URL with a password is not allowed (use a key)")
		}
		user := u.User.Username()
		if strings.HasPrefix(user, "-") || strings.ContainsAny(user, " \t\n'\"\\;@") {
			return nil, fmt.Errorf("hgwire: ssh user %q is not allowed", user)
		}
		host = user + "@" + host
	}
	path := strings.TrimPrefix(u.Path, "/") // ssh://host/rel, ssh://host//abs
	if path == "" {
		path = "."
	}
	if strings.ContainsAny(path, "\x00\n") {
		return nil, fmt.Errorf("hgwire: ssh path %q is not allowed", path)
	}
	remote := opts.RemoteCmd
	if remote == "" {
		remote = "hg"
	}
	argv := append([]string{}, opts.SSHCommand...)
	if len(argv) == 0 {
		argv = []string{"ssh"}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("hgwire: ssh port %q", p)
		}
		argv = append(argv, "-p", p)
	}
	argv = append(argv, "--", host, shellQuote(remote)+" -R "+shellQuote(path)+" serve --stdio")
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("hgwire: start %s: %w", argv[0], err)
	}
	t := &sshTransport{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 64<<10),
		stderr: &stderrTail{fwd: opts.Stderr, done: make(chan struct{})}, waitErr: make(chan error, 1),
		display: redactURL(u)}
	go t.stderr.run(stderr)
	go func() {
		<-t.stderr.done
		t.waitErr <- cmd.Wait()
	}()
	p := &Peer{t: t, url: t.display}
	// Stop the handshake if ctx ends or the server hangs.
	hctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	stop := context.AfterFunc(hctx, func() { t.kill() })
	caps, err := t.handshake()
	if !stop() || err != nil {
		t.close()
		if err == nil {
			err = hctx.Err()
		}
		return nil, t.wrap(fmt.Errorf("hgwire: ssh handshake with %s: %w", t.display, err))
	}
	if err := p.setCaps(caps); err != nil {
		t.close()
		return nil, err
	}
	return p, nil
}

func (t *sshTransport) kill() {
	if t.cmd.Process != nil {
		t.cmd.Process.Kill()
	}
}

// wrap adds the server's last stderr lines to err.
func (t *sshTransport) wrap(err error) error {
	if s := strings.TrimSpace(t.stderr.String()); s != "" {
		return fmt.Errorf("%w (remote: %s)", err, limitio.Clip(s, 500))
	}
	return err
}

func (t *sshTransport) handshake() ([]byte, error) {
	var req bytes.Buffer
	req.WriteString("hello\n")
	req.WriteString("between\npairs 81\n")
	req.WriteString(strings.Repeat("0", 40) + "-" + strings.Repeat("0", 40))
	if _, err := t.stdin.Write(req.Bytes()); err != nil {
		return nil, err
	}
	// Login banners may come first: look for the capabilities line.
	var caps []byte
	for i := 0; i < 1000; i++ {
		line, err := t.out.ReadString('\n')
		if err != nil {
			return nil, truncErr("ssh handshake", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if caps == nil {
			if rest, ok := strings.CutPrefix(line, "capabilities:"); ok {
				caps = []byte(strings.TrimSpace(rest))
			}
			continue
		}
		// After the capabilities: "1" and "" answer between.
		if line == "1" {
			next, err := t.out.ReadString('\n')
			if err != nil {
				return nil, truncErr("ssh handshake", err)
			}
			if next != "\n" {
				return nil, fmt.Errorf("unexpected between answer %q", limitio.Clip(next, 60))
			}
			return caps, nil
		}
	}
	return nil, errors.New("no capabilities in the first 1000 lines")
}

func (t *sshTransport) send(cmd string, args map[string]string) error {
	if t.spent {
		return errors.New("hgwire: ssh connection used for a stream; dial again")
	}
	spec, ok := sshArgSpecs[cmd]
	if !ok {
		return fmt.Errorf("hgwire: command %q is not supported over ssh", cmd)
	}
	rest := map[string]string{}
	for k, v := range args {
		rest[k] = v
	}
	var buf bytes.Buffer
	buf.WriteString(cmd + "\n")
	type kv struct{ k, v string }
	var named []kv
	star := false
	for _, k := range spec {
		if k == "*" {
			star = true
			break
		}
		v, ok := rest[k]
		if !ok {
			return fmt.Errorf("hgwire: %s: missing argument %s", cmd, k)
		}
		delete(rest, k)
		named = append(named, kv{k, v})
	}
	if !star && len(rest) > 0 {
		return fmt.Errorf("hgwire: %s: unexpected arguments", cmd)
	}
	if star {
		keys := make([]string, 0, len(rest))
		for k := range rest {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&buf, "* %d\n", len(keys))
		for _, k := range keys {
			if strings.ContainsAny(k, " \n") {
				return fmt.Errorf("hgwire: argument name %q", k)
			}
			fmt.Fprintf(&buf, "%s %d\n%s", k, len(rest[k]), rest[k])
		}
	}
	for _, a := range named {
		fmt.Fprintf(&buf, "%s %d\n%s", a.k, len(a.v), a.v)
	}
	_, err := t.stdin.Write(buf.Bytes())
	return err
}

func (t *sshTransport) call(ctx context.Context, cmd string, args map[string]string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	stop := context.AfterFunc(ctx, t.kill)
	defer stop()
	if err := t.send(cmd, args); err != nil {
		return nil, t.wrap(fmt.Errorf("hgwire: ssh %s: %w", cmd, err))
	}
	line, err := t.out.ReadString('\n')
	if err != nil {
		return nil, t.wrap(truncErr("ssh "+cmd+" answer", err))
	}
	line = strings.TrimRight(line, "\n")
	n, err := strconv.Atoi(line)
	if err != nil || n < 0 {
		if line == "" {
			return nil, t.wrap(&RemoteError{Kind: "abort", Message: "server error on " + cmd})
		}
		return nil, t.wrap(fmt.Errorf("hgwire: ssh %s: bad answer length %q", cmd, limitio.Clip(line, 60)))
	}
	if n > maxAnswer {
		return nil, fmt.Errorf("hgwire: ssh %s: answer of %d bytes exceeds %d", cmd, n, maxAnswer)
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, t.out, int64(n)); err != nil {
		return nil, t.wrap(truncErr("ssh "+cmd+" answer", err))
	}
	return b.Bytes(), nil
}

func (t *sshTransport) stream(ctx context.Context, cmd string, args map[string]string) (io.ReadCloser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.send(cmd, args); err != nil {
		return nil, t.wrap(fmt.Errorf("hgwire: ssh %s: %w", cmd, err))
	}
	t.spent = true
	stop := context.AfterFunc(ctx, t.kill)
	return readCloser{&sshStream{t: t}, func() error { stop(); return nil }}, nil
}

// sshStream reads a stream answer; an error reading it carries the
// server's stderr.
type sshStream struct{ t *sshTransport }

func (s *sshStream) Read(p []byte) (int, error) {
	n, err := s.t.out.Read(p)
	if err != nil && err != io.EOF {
		err = s.t.wrap(err)
	}
	return n, err
}

// argBudget: ssh frames its arguments in the stream, with no bound.
func (t *sshTransport) argBudget() int { return 0 }

func (t *sshTransport) close() error {
	t.stdin.Close()
	select {
	case <-t.waitErr:
	case <-time.After(5 * time.Second):
		t.kill()
		<-t.waitErr
	}
	return nil
}
