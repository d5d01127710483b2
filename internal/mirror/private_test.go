package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// privateRepo is a repository with one bookmarked changeset.
func privateRepo(t *testing.T) *hgtest.Repo {
	r := hgtest.NewRepo(t)
	r.Commit(hgtest.WithMessage("private"), hgtest.WithBookmark("main"), hgtest.WithFile("a", "secret project\n"))
	return r
}

// TestPrivateHTTPS: an hg serve behind a proxy requiring HTTP Basic;
// missing and wrong credentials are a 400 "source refused our
// credentials", right ones mirror it; the token is in no log, error,
// result or saved ref state.
func TestPrivateHTTPS(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-T0KEN-value"
	srv := hgtest.Serve(t, privateRepo(t), hgtest.WithBasicAuth("alice", token))
	var logs bytes.Buffer
	s := newSyncer(t)
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dest := gittest.Bare(t)
	var seen []string
	for _, tc := range []struct {
		name string
		auth SourceAuth
		ok   bool
	}{
		{"missing", SourceAuth{}, false},
		{"wrong", SourceAuth{User: "alice", Token: "wrong-" + token}, false},
		{"right", SourceAuth{User: "alice", Token: token}, true},
	} {
		m := hgMirror("private-https", srv.URL, dest)
		m.SourceAuth = tc.auth
		res, err := s.Sync(testCtx(t), m, SyncOptions{})
		if tc.ok {
			if err != nil {
				t.Fatalf("%s credentials: %v", tc.name, err)
			}
			if gittest.Refs(t, dest)["refs/heads/main"] == "" {
				t.Errorf("%s credentials: main not mirrored", tc.name)
			}
			b, _ := json.Marshal(res)
			seen = append(seen, string(b), fmt.Sprintf("%+v %#v %v", res, m, m))
			continue
		}
		if err == nil || ClassOf(err) != BadRequest || ClassOf(err).Retry() || !strings.Contains(err.Error(), "source refused our credentials") {
			t.Errorf("%s credentials: %v (class %v), want a 400 \"source refused our credentials\"", tc.name, err, ClassOf(err))
		}
		if err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	refs, err := os.ReadFile(filepath.Join(s.CacheDir, "private-https", refsFile))
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, logs.String(), string(refs))
	hgrc, _ := os.ReadFile(filepath.Join(s.HgRoot("private-https"), ".hg", "hgrc"))
	seen = append(seen, string(hgrc))
	for _, s := range seen {
		if strings.Contains(s, token) {
			t.Errorf("the token shows in %.300q", s)
		}
	}
}

// TestPrivateSSH: a real sshd whose only key runs `hg serve --stdio`; the
// mirror's key with the server's known_hosts mirrors it, an unknown host
// key is refused (400, "source refused our credentials").
func TestPrivateSSH(t *testing.T) {
	t.Parallel()
	srv := hgtest.Serve(t, privateRepo(t), hgtest.WithSSH())
	s := newSyncer(t)
	dest := gittest.Bare(t)

	m := hgMirror("private-ssh", srv.SSHURL, dest)
	m.SourceAuth = SourceAuth{SSHKey: srv.SSHKey, KnownHosts: srv.WrongKnownHosts(t)}
	_, err := s.Sync(testCtx(t), m, SyncOptions{})
	if err == nil || ClassOf(err) != BadRequest || !strings.Contains(err.Error(), "source refused our credentials") {
		t.Errorf("unknown host key: %v (class %v), want a 400 \"source refused our credentials\"", err, ClassOf(err))
	}
	if gittest.Refs(t, dest)["refs/heads/main"] != "" {
		t.Error("mirrored despite an unknown host key")
	}

	m.SourceAuth.KnownHosts = srv.KnownHosts
	if _, err := s.Sync(testCtx(t), m, SyncOptions{}); err != nil {
		t.Fatalf("ssh with the right key and known_hosts: %v", err)
	}
	if gittest.Refs(t, dest)["refs/heads/main"] == "" {
		t.Error("main not mirrored over ssh")
	}
	// Validate refuses a key without known_hosts.
	m.SourceAuth.KnownHosts = ""
	if _, err := s.Sync(testCtx(t), m, SyncOptions{}); ClassOf(err) != BadRequest || !strings.Contains(fmt.Sprint(err), "known_hosts") {
		t.Errorf("a key without known_hosts: %v", err)
	}
}
