package hg

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

const testToken = "tok-5ecret-9f2c"

// TestCredentialsCommand checks what a Runner with credentials hands to
// exec: no secret in argv or the environment, the hgrc private and removed
// afterwards.
func TestCredentialsCommand(t *testing.T) {
	t.Parallel()
	r := (&Runner{}).WithCredentials(Credentials{User: "alice", Token: testToken})
	args := []string{"clone", "--noupdate", "--", "https://hg.example.org/team/repo", "/tmp/x"}
	c, cleanup, err := r.command("", "https://hg.example.org/team/repo", args)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range append(slices.Clone(c.Args), c.Env...) {
		if strings.Contains(a, testToken) {
			t.Errorf("token in argv or environment: %q", a)
		}
	}
	var rc string
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "HGRCPATH="); ok {
			rc = v
		}
	}
	if rc == "" {
		t.Fatalf("HGRCPATH names no file: %q", c.Env)
	}
	fi, err := os.Stat(rc)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("hgrc %s: %v, mode %v; want 0600", rc, err, fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(rc)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("hgrc directory: %v, %v; want 0700", err, di.Mode())
	}
	b, _ := os.ReadFile(rc)
	want := "[auth]\nsource.prefix = https://hg.example.org/team/repo\nsource.username = alice\nsource.password = " + testToken + "\n"
	if string(b) != want {
		t.Errorf("hgrc = %q, want %q", b, want)
	}
	if !slices.Contains(c.Secrets, testToken) {
		t.Error("the token is not among the secrets redacted")
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(rc)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private directory left behind: %v", err)
	}

	// Local commands, local sources and an ssh source given only a token
	// get no file at all.
	for _, source := range []string{"", "/srv/repo", "ssh://hg@example.org/r"} {
		c, cleanup, err := r.command("", source, []string{"version"})
		if err != nil || !slices.Contains(c.Env, "HGRCPATH=") {
			t.Errorf("source %q: %v, env %q; want HGRCPATH empty", source, err, c.Env)
		}
		cleanup()
	}

	// ssh: ui.ssh in the file, never argv.
	dir := t.TempDir()
	key, kh := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	writeFile(t, key, "key")
	writeFile(t, kh, "hosts")
	rs := r.WithCredentials(Credentials{SSHKey: key, KnownHosts: kh})
	c, cleanup, err = rs.command("", "ssh://hg@example.org/r", []string{"pull", "--", "ssh://hg@example.org/r"})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "HGRCPATH="); ok {
			b, _ := os.ReadFile(v)
			want := "[ui]\nssh = ssh -i " + key + " -o IdentitiesOnly=yes -o UserKnownHostsFile=" + kh +
				" -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentityAgent=none -F /dev/null\n"
			if string(b) != want {
				t.Errorf("ssh hgrc = %q, want %q", b, want)
			}
		}
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, key) }) {
		t.Errorf("ssh key on the command line: %q", c.Args)
	}
	cleanup()

	for name, bad := range map[string]Credentials{
		"no known_hosts":      {SSHKey: key},
		"missing known_hosts": {SSHKey: key, KnownHosts: filepath.Join(dir, "nope")},
		"relative key":        {SSHKey: "id", KnownHosts: kh},
		"shell in key":        {SSHKey: dir + "/id;touch", KnownHosts: kh},
	} {
		if _, _, err := r.WithCredentials(bad).command("", "ssh://hg@example.org/r", nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, bad := range map[string]Credentials{
		"token without user": {Token: testToken},
		"newline in token":   {User: "a", Token: "x\n[hooks]\npre-pull=touch /tmp/pwned"},
		"blank around user":  {User: " a", Token: "x"},
	} {
		_, _, err := r.WithCredentials(bad).command("", "https://hg.example.org/r", nil)
		if err == nil || strings.Contains(err.Error(), "pwned") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCredentialsHTTPBasic clones through a reverse proxy that requires
// HTTP Basic authentication.
func TestCredentialsHTTPBasic(t *testing.T) {
	requireHg(t)
	t.Parallel()
	_, srv := servedRepo(t, hgtest.WithBasicAuth("alice", testToken))

	for name, tc := range map[string]struct {
		creds Credentials
		ok    bool
	}{
		"right":   {Credentials{User: "alice", Token: testToken}, true},
		"wrong":   {Credentials{User: "alice", Token: "not-" + testToken}, false},
		"missing": {Credentials{}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t) // the parent's may be spent while subtests wait for a slot
			var logs bytes.Buffer
			r := (&Runner{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).WithCredentials(tc.creds)
			dest := filepath.Join(t.TempDir(), "clone")
			err := r.Clone(ctx, srv.URL, dest)
			if strings.Contains(logs.String(), testToken) || !strings.Contains(logs.String(), "clone") {
				t.Errorf("log shows the token, or no command: %s", logs.String())
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("Clone: %v", err)
				}
				if err := r.Pull(ctx, dest, srv.URL); err != nil {
					t.Fatalf("Pull: %v", err)
				}
				return
			}
			var he *Error
			if !errors.As(err, &he) || he.Kind != KindAuth {
				t.Fatalf("Clone = %v, want an *Error of KindAuth", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestCredentialsSSH clones over a real sshd with the right key and
// known_hosts, and is refused a host whose key is not the known one.
func TestCredentialsSSH(t *testing.T) {
	requireHg(t)
	t.Parallel()
	ctx := testContext(t)
	_, srv := servedRepo(t, hgtest.WithSSH())

	r := (&Runner{}).WithCredentials(Credentials{SSHKey: srv.SSHKey, KnownHosts: srv.KnownHosts})
	dest := filepath.Join(t.TempDir(), "clone")
	if err := r.Clone(ctx, srv.SSHURL, dest); err != nil {
		t.Fatalf("Clone over ssh: %v", err)
	}
	if err := r.Pull(ctx, dest, srv.SSHURL); err != nil {
		t.Fatalf("Pull over ssh: %v", err)
	}

	wrong := r.WithCredentials(Credentials{SSHKey: srv.SSHKey, KnownHosts: srv.WrongKnownHosts(t)})
	err := wrong.Clone(ctx, srv.SSHURL, filepath.Join(t.TempDir(), "refused"))
	var he *Error
	if !errors.As(err, &he) || he.Kind != KindAuth {
		t.Fatalf("Clone with an unknown host key = %v, want an *Error of KindAuth", err)
	}
	if !strings.Contains(strings.ToLower(he.Stderr), "host key") {
		t.Errorf("stderr does not say why: %q", he.Stderr)
	}
}

// servedRepo serves, with opts, a new repository of one changeset.
func servedRepo(t *testing.T, opts ...hgtest.Option) (*hgtest.Repo, *hgtest.Server) {
	t.Helper()
	repo := hgtest.NewRepo(t)
	repo.Write("a", "1\n")
	repo.Commit()
	return repo, hgtest.Serve(t, repo, opts...)
}
