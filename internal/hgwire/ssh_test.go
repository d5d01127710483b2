package hgwire

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestPullSSH pulls over real OpenSSH (sshd on 127.0.0.1 forcing
// hg serve --stdio) twice, then after the source stripped a changeset and
// rewrote another.
func TestPullSSH(t *testing.T) {
	t.Parallel()
	src := smallSource(t)
	// The repository's own hgrc enables evolve and drafts: hg refuses
	// --config arguments on serve --stdio, which the kit would add.
	srv := hgtest.Serve(t, src, hgtest.WithSSH())
	var stderr bytes.Buffer
	opts := PullOptions{Options: Options{SSHCommand: strings.Fields(srv.SSHCommand(srv.KnownHosts)), Stderr: &stderr}}
	cache := filepath.Join(t.TempDir(), "cache")
	st, stats := pull(t, srv.SSHURL, cache, opts)
	if stats.Changesets != 4 {
		t.Fatalf("first pull: %d changesets", stats.Changesets)
	}
	sameAsSource(t, src, cache, st)

	src.Write("c", "c\n")
	c := src.Commit()
	src.Write("d", "d\n")
	tip := src.Commit()
	st, stats = pull(t, srv.SSHURL, cache, opts)
	if stats.Changesets != 2 {
		t.Fatalf("second pull: %d changesets", stats.Changesets)
	}
	sameAsSource(t, src, cache, st)

	// The source strips its tip and amends the one before: the cache's
	// head is unknown there, discovery must find the common part.
	src.Run("--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", "tip")
	src.Update(c)
	src.Write("c", "c amended\n")
	src.Amend()
	st, stats = pull(t, srv.SSHURL, cache, opts)
	if stats.Changesets != 1 {
		t.Fatalf("third pull: %d changesets, want the amended one", stats.Changesets)
	}
	if stats.Roundtrips == 0 {
		t.Fatalf("discovery made no sampling round trip for an unknown head")
	}
	n := mustNode(t, c)
	if !st.Hidden[n] {
		t.Fatalf("amended changeset %s not hidden in the state", c)
	}
	if !st.Hidden[mustNode(t, tip)] || len(st.Hidden) != 2 {
		t.Fatalf("hidden %v, want the rewritten %s and the stripped %s", st.Hidden, c, tip)
	}
	verify(t, cache)
}
