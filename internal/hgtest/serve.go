package hgtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/kitrun"
)

// Server is a running `hg serve` of one repository on 127.0.0.1, with
// optionally an HTTP Basic authentication proxy in front and an ssh endpoint.
type Server struct {
	// URL is the repository's http:// URL, ending in "/" (with the prefix
	// when WithPrefix was given). Under WithBasicAuth it is the proxy's and
	// carries no credentials.
	URL string
	// Base is scheme, host and port: "http://127.0.0.1:P".
	Base string
	// User and Password are the credentials WithBasicAuth requires ("" without it).
	User, Password string
	// Direct is hg serve's own URL, bypassing the proxy.
	Direct string

	// SSHURL, SSHKey and KnownHosts are set under WithSSH: the ssh:// URL
	// of the repository, the client's private key and a known_hosts file
	// holding the server's host key.
	SSHURL, SSHKey, KnownHosts string
}

var bound = regexp.MustCompile(`bound to 127\.0\.0\.1:(\d+)`)

// StartServe starts `hg serve` for the repository at dir on 127.0.0.1 and a
// free port with env, adding args (e.g. --config settings), and returns its
// address "127.0.0.1:P" once it answers ?cmd=capabilities, and a function
// that kills it (SIGKILL) and waits. It is the part of Serve that needs no
// testing.TB, for test drivers such as testscript.
func StartServe(dir string, env []string, args ...string) (addr string, stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "hg", append([]string{"serve", "-R", dir, "-a", "127.0.0.1", "-p", "0",
		"--config", "web.push_ssl=false"}, args...)...)
	cmd.Dir, cmd.Env = dir, env // hooks and anything relative run in the repository
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return "", nil, err
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var said []string
		for sc.Scan() {
			if m := bound.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			} else {
				said = append(said, sc.Text())
			}
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok {
			stop()
			return "", nil, fmt.Errorf("hg serve %s exited before listening", dir)
		}
		addr = "127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, fmt.Errorf("hg serve %s did not start in 30s", dir)
	}
	path := "/"
	for i, a := range args {
		if a == "--prefix" && i+1 < len(args) {
			path = "/" + strings.Trim(args[i+1], "/") + "/"
		}
	}
	if err := waitCapabilities("http://" + addr + path); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// waitCapabilities polls base?cmd=capabilities until it answers 200.
func waitCapabilities(base string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "?cmd=capabilities")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("hg serve at %s does not answer capabilities: %v", base, last)
}

// Serve serves repo with `hg serve` on 127.0.0.1 until the test ends. The
// options NonPublishing, WithEvolve, WithTopics, AllowPush and WithConfig
// configure the server (not the repository's .hg/hgrc); WithPrefix serves it
// under a path; WithBasicAuth puts an authenticating proxy in front;
// WithSSH adds an ssh:// endpoint.
func Serve(t testing.TB, repo *Repo, opts ...Option) *Server {
	t.Helper()
	c := configure(opts)
	args := c.configArgs()
	path := "/"
	if c.prefix != "" {
		args = append(args, "--prefix", c.prefix)
		path = "/" + c.prefix + "/"
	}
	addr, stop, err := StartServe(repo.Dir, Env(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	s := &Server{Base: "http://" + addr, Direct: "http://" + addr + path}
	s.URL = s.Direct
	if c.user != "" || c.password != "" {
		s.User, s.Password = c.user, c.password
		s.Base = basicAuthProxy(t, s.Base, c.user, c.password)
		s.URL = s.Base + path
	}
	if c.ssh {
		s.serveSSH(t, repo.Dir, c.serverHgrc())
	}
	return s
}

// basicAuthProxy starts a reverse proxy to target that requires user and
// password and returns its base URL.
func basicAuthProxy(t testing.TB, target, user, password string) string {
	t.Helper()
	return Proxy(t, target, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="hgtest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

// Proxy starts a reverse proxy to target (a server's base URL) in front of
// which handle sees every request, with the proxy as next, and returns the
// proxy's base URL: a test puts authentication or faults in front of a
// server this way.
func Proxy(t testing.TB, target string, handle func(w http.ResponseWriter, r *http.Request, next http.Handler)) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(w, r, proxy)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// AuthConfig returns --config arguments that give an hg client the
// server's Basic credentials for its URL (so they stay off the URL).
func (s *Server) AuthConfig() []string {
	return []string{
		"--config", "auth.hgtest.prefix=" + s.Base,
		"--config", "auth.hgtest.username=" + s.User,
		"--config", "auth.hgtest.password=" + s.Password,
	}
}

// SSHCommand is the ui.ssh value that reaches the ssh endpoint with the
// client key, checking the host key against knownHosts (s.KnownHosts for a
// good one) and never prompting.
func (s *Server) SSHCommand(knownHosts string) string {
	return "ssh -F /dev/null -i " + s.SSHKey + " -o IdentitiesOnly=yes -o UserKnownHostsFile=" + knownHosts +
		" -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10"
}

const sshdPath = "/usr/sbin/sshd"

// serveSSH starts a real sshd on a loopback port whose only authorized key
// (a new client key) is forced to run `hg -R dir serve --stdio` with hgrc
// as its configuration file (HGRCPATH): hg refuses --config arguments on
// serve --stdio, and the repository's own .hg/hgrc stays as it is.
func (s *Server) serveSSH(t testing.TB, dir, hgrc string) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("the ssh endpoint needs OpenSSH's sshd (Debian openssh-server): %v", err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatalf("sshd privilege separation directory: %v", err)
	}
	sshDir := t.TempDir()
	hostKey, clientKey := filepath.Join(sshDir, "host_ed25519"), filepath.Join(sshDir, "id_ed25519")
	keygen(t, hostKey)
	keygen(t, clientKey)
	hostPub := readPub(t, hostKey)

	// The forced command: the kit's environment with the server's
	// configuration file, then hg serve --stdio. sshd runs it with the
	// user's shell (sh -c).
	rc := filepath.Join(sshDir, "serve.hgrc")
	writeFile(t, rc, hgrc, 0o600)
	var cmd strings.Builder
	cmd.WriteString("env -i")
	for _, kv := range Env() {
		if strings.HasPrefix(kv, "HGRCPATH=") {
			kv = "HGRCPATH=" + rc
		}
		cmd.WriteString(" " + shellQuote(kv))
	}
	cmd.WriteString(" hg -R " + shellQuote(dir) + " serve --stdio")
	forced := strings.ReplaceAll(cmd.String(), `"`, `\"`)
	auth := filepath.Join(sshDir, "authorized_keys")
	line := `command="` + forced + `",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ` + readPub(t, clientKey) + "\n"
	writeFile(t, auth, line, 0o600)

	port := freePort(t)
	cfg := filepath.Join(sshDir, "sshd_config")
	writeFile(t, cfg, strings.Join([]string{
		"Port " + port,
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(sshDir, "sshd.pid"),
		"AuthorizedKeysFile " + auth,
		"AllowUsers " + me.Username,
		"UsePAM no",
		"StrictModes no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"PermitUserEnvironment no",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"PrintMotd no",
		"LogLevel ERROR",
		"",
	}, "\n"), 0o600)

	sshd := exec.Command(sshdPath, "-D", "-e", "-f", cfg)
	stderr := &kitrun.Buffer{}
	sshd.Stderr = stderr
	sshd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sshd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = sshd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-sshd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	addr := "127.0.0.1:" + port
	if err := waitBanner(addr, exited); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("sshd does not start as a non-root user here (%v): %s", err, stderr.String())
		}
		t.Fatalf("sshd: %v: %s", err, stderr.String())
	}
	s.SSHURL = "ssh://" + me.Username + "@" + addr + "/" + filepath.Base(dir)
	s.SSHKey = clientKey
	s.KnownHosts = filepath.Join(sshDir, "known_hosts")
	writeFile(t, s.KnownHosts, "[127.0.0.1]:"+port+" "+hostPub+"\n", 0o600)
}

// WrongKnownHosts returns a known_hosts file that names the ssh endpoint
// with a host key that is not its own, for tests of refusal.
func (s *Server) WrongKnownHosts(t testing.TB) string {
	t.Helper()
	if s.SSHURL == "" {
		t.Fatal("WrongKnownHosts: the server has no ssh endpoint (WithSSH)")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "other")
	keygen(t, key)
	u, err := url.Parse(s.SSHURL)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, "[127.0.0.1]:"+u.Port()+" "+readPub(t, key)+"\n", 0o600)
	return kh
}

func keygen(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hgtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// readPub returns "type base64" of the public key beside path.
func readPub(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		t.Fatalf("%s.pub: malformed public key", path)
	}
	return f[0] + " " + f[1]
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// ClosedAddr returns a 127.0.0.1 address ("127.0.0.1:port") nothing
// listens on (just now): a server that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// freePort returns a loopback port nothing listens on (just now).
func freePort(t testing.TB) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(ClosedAddr(t))
	return port
}

// waitBanner waits until addr sends an SSH banner, or sshd exits.
func waitBanner(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			banner, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(banner, "SSH-") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no SSH banner on %s in 20s", addr)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
