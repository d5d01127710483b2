package hgtest

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = Cleanup()
	os.Exit(code)
}

func TestCommitOptions(t *testing.T) {
	t.Parallel()
	r := NewRepo(t)
	r.Write("a/b.txt", "one\n")
	first := r.Commit()
	r.Write("a/b.txt", "two\n")
	second := r.Commit(WithMessage("second"), WithUser("Other <o@example.com>"), WithDate("1500000000 -7200"),
		WithBranch("stable"), WithBookmark("feature"))
	if len(first) != 40 || len(second) != 40 || first == second {
		t.Fatalf("nodes %q %q", first, second)
	}
	got := r.Run("log", "-r", second, "-T", "{desc}|{author}|{date|hgdate}|{branch}|{p1node}")
	if want := "second|Other <o@example.com>|1500000000 -7200|stable|" + first; got != want {
		t.Errorf("second commit = %q, want %q", got, want)
	}
	if got := r.Run("log", "-r", first, "-T", "{desc}|{author}|{date|hgdate}|{branch}"); got != "commit 1|"+User+"|1400000000 0|default" {
		t.Errorf("default commit = %q", got)
	}
	if b := r.Bookmarks(); len(b) != 1 || b["feature"] != second {
		t.Errorf("Bookmarks = %v", b)
	}
	r.Update(first)
	r.Write("a/b.txt", "three\n")
	third := r.Commit(WithParent(first))
	if got := r.Run("log", "-r", third, "-T", "{date|hgdate}|{p1node}|{branch}"); got != "1400000120 0|"+first+"|default" {
		t.Errorf("third = %q (dates advance a minute a commit; updating to a default changeset leaves stable)", got)
	}
	tag := r.Tag("v1", WithRev(first), WithMessage("tag v1"))
	if r.Node("v1") != first || r.Node(tag) != tag || !strings.Contains(r.Run("cat", "-r", tag, ".hgtags"), first+" v1") {
		t.Errorf("tag v1 does not name %s", first)
	}
	if r.Node(".") != tag {
		t.Errorf("working directory is not at the tagging changeset")
	}
	closed := r.Commit(WithCloseBranch(), WithFile("c", "x"))
	if got := r.Run("log", "-r", "closed()", "-T", "{node}"); got != closed {
		t.Errorf("closed() = %q, want %q", got, closed)
	}
	if got := r.Run("cat", "-r", closed, "c"); got != "x" {
		t.Errorf("WithFile: c at the closing commit = %q, want %q", got, "x")
	}
}

func TestEvolveAmendPrune(t *testing.T) {
	t.Parallel()
	r := NewRepo(t, WithEvolve())
	r.Write("f", "1\n")
	base := r.Commit(WithMessage("base"))
	r.Write("f", "2\n")
	old := r.Commit(WithMessage("to amend"))
	r.Write("f", "3\n")
	amended := r.Amend()
	if amended == old {
		t.Fatal("Amend returned the old node")
	}
	if got := r.Run("log", "-r", amended, "-T", "{desc}"); got != "to amend" {
		t.Errorf("amended message %q, want the old one kept", got)
	}
	if got := r.Run("log", "--hidden", "-r", "obsolete()", "-T", "{node}\n"); got != old+"\n" {
		t.Errorf("obsolete() = %q, want %s", got, old)
	}
	if got := r.Run("log", "--hidden", "-r", "successors("+old+")", "-T", "{node}\n"); !strings.Contains(got, amended) {
		t.Errorf("successors(%s) = %q, want %s", old, got, amended)
	}
	r.Update(base)
	r.Prune(amended)
	if got := strings.Fields(r.Run("log", "--hidden", "-r", "obsolete()", "-T", "{node}\n")); len(got) != 2 {
		t.Errorf("after prune obsolete() = %v, want 2", got)
	}
	if got := r.Run("log", "-T", "{node}\n"); got != base+"\n" {
		t.Errorf("visible = %q, want only %s", got, base)
	}
}

func TestTopics(t *testing.T) {
	t.Parallel()
	r := NewRepo(t, WithEvolve(), WithTopics(), NonPublishing())
	r.Write("f", "1\n")
	r.Commit()
	r.Write("f", "2\n")
	n := r.Commit(WithTopic("feature-x"))
	if got := r.Run("log", "-r", n, "-T", "{topic}|{phase}"); got != "feature-x|draft" {
		t.Errorf("topic commit = %q, want feature-x|draft", got)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	r, n := oneCommit(t)
	s := Serve(t, r, WithPrefix("p/q"))
	if !strings.HasSuffix(s.URL, "/p/q/") || !strings.HasPrefix(s.URL, s.Base) {
		t.Fatalf("URL %q Base %q", s.URL, s.Base)
	}
	resp, err := http.Get(s.URL + "?cmd=capabilities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("capabilities: %s", resp.Status)
	}
	if got := strings.TrimSpace(Run(t, "", "identify", "-r", "tip", "-T", "{node}", "--", s.URL)); got != n {
		t.Errorf("identify = %q, want %s", got, n)
	}
}

func TestServeNonPublishingPush(t *testing.T) {
	t.Parallel()
	r, _ := oneCommit(t)
	s := Serve(t, r, NonPublishing(), AllowPush(), WithEvolve(), WithTopics())
	c := r.Clone(t)
	c.Update("tip")
	c.Write("f", "2\n")
	n := c.Commit()
	c.Run("push", "-q", "--", s.URL)
	if got := r.Run("log", "-r", n, "-T", "{phase}"); got != "draft" {
		t.Errorf("pushed changeset is %q on a non-publishing server, want draft", got)
	}
	caps := Run(t, "", "debugcapabilities", "--", s.URL)
	if !strings.Contains(caps, "topics") {
		t.Errorf("server with topics does not advertise them:\n%s", caps)
	}
}

func TestServeBasicAuth(t *testing.T) {
	t.Parallel()
	r, n := oneCommit(t)
	s := Serve(t, r, WithBasicAuth("alice", "s3cret"))
	if strings.Contains(s.URL, "alice") || strings.Contains(s.URL, "s3cret") {
		t.Fatalf("URL %q carries credentials", s.URL)
	}
	id := func(extra ...string) (string, error) {
		out, err := RunErr("", append(append([]string{"identify", "-r", "tip", "-T", "{node}"}, extra...), "--", s.URL)...)
		return strings.TrimSpace(out), err
	}
	if _, err := id(); err == nil {
		t.Error("identify without credentials succeeded")
	}
	wrong := *s
	wrong.Password = "wrong"
	if _, err := id(wrong.AuthConfig()...); err == nil {
		t.Error("identify with a wrong password succeeded")
	} else if e := new(Error); !errors.As(err, &e) || !strings.Contains(e.Stderr, "authoriz") {
		t.Errorf("wrong password: %v, want an authorization failure", err)
	}
	if got, err := id(s.AuthConfig()...); err != nil || got != n {
		t.Errorf("identify with credentials = %q, %v; want %s", got, err, n)
	}
}

func TestServeSSH(t *testing.T) {
	t.Parallel()
	r, n := oneCommit(t, WithEvolve())
	s := Serve(t, r, WithSSH())
	if !strings.HasPrefix(s.SSHURL, "ssh://") {
		t.Fatalf("SSHURL %q", s.SSHURL)
	}
	dst := t.TempDir() + "/clone"
	Run(t, "", "clone", "-q", "-U", "--config", "ui.ssh="+s.SSHCommand(s.KnownHosts), "--", s.SSHURL, dst)
	if got := Open(t, dst).Node("tip"); got != n {
		t.Errorf("cloned tip %s, want %s", got, n)
	}
	_, err := RunErr("", "identify", "--config", "ui.ssh="+s.SSHCommand(s.WrongKnownHosts(t)), "--", s.SSHURL)
	if e := new(Error); !errors.As(err, &e) || !strings.Contains(e.Stderr, "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("identify with an unknown host key: %v, want refused for the host key", err)
	}
}

// TestServeSSHConfig serves over ssh with server options the repository's
// own hgrc does not have: hg refuses --config on serve --stdio, so the kit
// gives them as the forced command's configuration file.
func TestServeSSHConfig(t *testing.T) {
	t.Parallel()
	r := NewRepo(t)
	r.Write("f", "1\n")
	n := r.Commit()
	hgrc, err := os.ReadFile(r.Path(".hg/hgrc"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	s := Serve(t, r, WithSSH(), NonPublishing(), WithEvolve(), WithConfig("experimental.changegroup3=true"))
	ssh := "ui.ssh=" + s.SSHCommand(s.KnownHosts)
	caps := Run(t, "", "debugcapabilities", "--config", ssh, "--", s.SSHURL)
	for _, want := range []string{"\n    03\n", "obsmarkers"} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities over ssh lack %q (changegroup3, evolve):\n%s", want, caps)
		}
	}
	dst := t.TempDir() + "/clone"
	Run(t, "", "clone", "-q", "-U", "--config", ssh, "--", s.SSHURL, dst)
	if got := Open(t, dst).Run("log", "-r", n, "-T", "{phase}"); got != "draft" {
		t.Errorf("cloned from a non-publishing server over ssh: %s, want draft", got)
	}
	if got := r.Run("log", "-r", n, "-T", "{phase}"); got != "draft" {
		t.Errorf("served changeset became %s", got)
	}
	after, _ := os.ReadFile(r.Path(".hg/hgrc"))
	if string(after) != string(hgrc) {
		t.Errorf("serving changed the repository's hgrc:\n%s", after)
	}
}

func TestUnbundle(t *testing.T) {
	t.Parallel()
	a := Unbundle(t, "click.hg")
	b := Unbundle(t, "click.hg")
	if a.Dir != b.Dir {
		t.Errorf("Unbundle twice gave %s and %s, want one cached repository", a.Dir, b.Dir)
	}
	if n := strings.Count(a.Run("log", "-r", "0:9", "-T", "x"), "x"); n != 10 {
		t.Errorf("unbundled click has %d of its first 10 changesets", n)
	}
	c := a.Clone(t)
	if c.Node("tip") != a.Node("tip") {
		t.Error("clone differs")
	}
}

// oneCommit returns a new repository with one commit of file f, and the
// commit's node.
func oneCommit(t *testing.T, opts ...Option) (*Repo, string) {
	t.Helper()
	r := NewRepo(t, opts...)
	r.Write("f", "1\n")
	return r, r.Commit()
}
