package hgwire

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hg"
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

	c := src.Commit(hgtest.WithFile("c", "c\n"))
	tip := src.Commit(hgtest.WithFile("d", "d\n"))
	st, stats = pull(t, srv.SSHURL, cache, opts)
	if stats.Changesets != 2 {
		t.Fatalf("second pull: %d changesets", stats.Changesets)
	}
	sameAsSource(t, src, cache, st)

	// The source strips its tip: the cache's head is unknown there,
	// discovery samples, and the cache is made again without it.
	src.Run("--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", "tip")
	st, stats = pull(t, srv.SSHURL, cache, opts)
	if stats.Roundtrips == 0 {
		t.Fatalf("discovery made no sampling round trip for an unknown head")
	}
	if len(st.Stripped) != 1 || st.Stripped[0] != mustNode(t, tip) {
		t.Fatalf("stripped %v, want %s", st.Stripped, tip)
	}
	sameAsSource(t, src, cache, st)

	// The source amends its tip: the old one is hidden, not stripped.
	src.Update(c)
	src.Amend(hgtest.WithFile("c", "c amended\n"))
	st, stats = pull(t, srv.SSHURL, cache, opts)
	if stats.Changesets != 1 || len(st.Stripped) != 0 {
		t.Fatalf("after amend: %d changesets, stripped %v", stats.Changesets, st.Stripped)
	}
	if !st.Hidden[mustNode(t, c)] || len(st.Hidden) != 1 {
		t.Fatalf("hidden %v, want the amended %s", st.Hidden, c)
	}
	sameAsSource(t, src, cache, st)

	// The source moves its root back to draft: the cache follows.
	root := src.Node("0")
	src.Run("phase", "-q", "--force", "--draft", "-r", "0")
	st, _ = pull(t, srv.SSHURL, cache, opts)
	if st.PhaseOf(mustNode(t, root)) != hg.Draft {
		t.Fatalf("root is %s in the state after the source made it draft", st.PhaseOf(mustNode(t, root)))
	}
	if ph := hgtest.Run(t, cache, "log", "-r", "0", "-T", "{phase}"); ph != "draft" {
		t.Fatalf("root is %s in the cache", ph)
	}
	verify(t, cache)
}
